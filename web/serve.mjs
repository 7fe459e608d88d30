// Serves the reference web app: its static files, the TypeScript client's build at /client/,
// the QR code drawer at /vendor/qrcode.mjs, /config.js with the API's URL (API_URL) and the
// other providers' names (OAUTH_PROVIDERS), and index.html for every other path, so the links
// the service mails (/confirm#code=…, /reset#code=…, /me/identifier#code=…) open it.
// Every answer carries the headers a deployment's CDN should set (see web/README.md): a
// Content-Security-Policy whose connect-src names the API's origin alone and that forbids
// framing, and Referrer-Policy: no-referrer.
// Usage: API_URL=http://127.0.0.1:3000 [OAUTH_PROVIDERS='[{"name":"google",…}]'] node web/serve.mjs [port] [host]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const clientDist = join(here, "../clients/typescript/dist");
// The QR code of an authenticator app's otpauth URI is drawn in the browser (npm ci --prefix web).
const qrcode = join(here, "node_modules/qrcode-generator/dist/qrcode.mjs");
const port = Number(process.argv[2] ?? 5173);
const host = process.argv[3] ?? "127.0.0.1";
const apiUrl = process.env.API_URL ?? "http://127.0.0.1:3000";
// The other providers the service signs in with: the names of OAUTH_PROVIDERS, the same JSON
// the functions are configured with (a button each on the sign-in page).
const providers = JSON.parse(process.env.OAUTH_PROVIDERS || "[]").map((provider) => provider.name);
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json" };

const SECURITY_HEADERS = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${new URL(apiUrl).origin}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

function inside(root, path) {
  const full = normalize(join(root, path));
  return full.startsWith(root) ? full : null;
}

createServer(async (request, response) => {
  const path = new URL(request.url, "http://x").pathname;
  if (path === "/config.js") {
    response.writeHead(200, { ...SECURITY_HEADERS, "content-type": TYPES[".js"], "cache-control": "no-store" });
    return response.end(`globalThis.AUTH_SERVICE_CONFIG = ${JSON.stringify({ apiUrl, providers })};\n`);
  }
  const file = path === "/vendor/qrcode.mjs" ? qrcode : path.startsWith("/client/")
    ? inside(clientDist, path.slice("/client/".length))
    : extname(path) ? inside(here, path) : join(here, "index.html");
  try {
    const body = await readFile(file ?? "");
    response.writeHead(200, { ...SECURITY_HEADERS, "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
    response.end(body);
  } catch {
    response.writeHead(404, { ...SECURITY_HEADERS, "content-type": "text/plain" });
    response.end("not found");
  }
}).listen(port, host, () => {
  // Open it by name on loopback: browsers refuse WebAuthn (passkeys) on an IP-address origin.
  const name = ["127.0.0.1", "::1"].includes(host) ? "localhost" : host;
  console.log(`web app on http://${name}:${port} (API ${apiUrl})`);
});
