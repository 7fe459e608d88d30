//! The local router (`cargo lambda watch`) and the deployed API (template.yaml) must agree on
//! every route and the function behind it, and `sam build` (the Makefile) must build every
//! function of the template from its workspace binary.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

pub(crate) fn workspace_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (METHOD, path, binary) from `[workspace.metadata.lambda.watch.router]`.
pub(crate) fn router_routes() -> BTreeSet<(String, String, String)> {
    let manifest: toml::Table = workspace_file("Cargo.toml")
        .parse()
        .expect("Cargo.toml parses");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("a router table");
    let mut routes = BTreeSet::new();
    for (path, targets) in router {
        for target in targets.as_array().expect("a list of targets") {
            routes.insert((
                target["method"].as_str().unwrap().to_uppercase(),
                path.clone(),
                target["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    routes
}

/// Logical id -> binary from the Makefile's `LAMBDA_FUNCTIONS`, the one place that pairs
/// them (`sam build` runs its `build-<LogicalId>` targets, each copying that binary's
/// bootstrap); the local event pipeline reads the same list.
fn makefile_binaries() -> BTreeMap<String, String> {
    auth_tools::mapping::makefile_binaries(&workspace_file("Makefile"))
        .expect("a LAMBDA_FUNCTIONS list of LogicalId=binary words, each id once")
}

/// Logical id -> resource of every AWS::Serverless::Function in template.yaml.
fn template_functions(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| (id.as_str().unwrap().to_owned(), resource.clone()))
        .collect()
}

/// The routes marked 🔒 in the contract: they take an access token.
pub(crate) const BEARER_ROUTES: &[(&str, &str)] = &[
    ("POST", "/password/change"),
    ("GET", "/sessions"),
    ("DELETE", "/sessions"),
    ("DELETE", "/sessions/{id}"),
    ("GET", "/me"),
    ("POST", "/me/identifier"),
    ("PATCH", "/me/identifier/{code}"),
    ("DELETE", "/me"),
    ("GET", "/me/activity"),
    ("POST", "/me/totp"),
    ("DELETE", "/me/totp"),
    ("POST", "/me/totp/confirm"),
    ("POST", "/me/totp/recovery-codes"),
    ("POST", "/me/passkeys/options"),
    ("GET", "/me/passkeys"),
    ("POST", "/me/passkeys"),
    ("PATCH", "/me/passkeys/{id}"),
    ("DELETE", "/me/passkeys/{id}"),
    ("POST", "/me/providers/{provider}"),
    ("DELETE", "/me/providers/{provider}"),
];

fn template() -> Value {
    serde_yaml_ng::from_str(&workspace_file("template.yaml")).expect("template parses")
}

/// The logical id an intrinsic names: `!Ref X`, `!GetAtt X.Arn`, `!Sub prefix/${X}`.
fn named_resource(value: &Value) -> String {
    let text = serde_yaml_ng::to_string(value).unwrap();
    let text = text.trim();
    let name = match text.split_once("${") {
        Some((_, rest)) => rest.split('}').next().unwrap_or_default(),
        None => text.rsplit(' ').next().unwrap_or_default(),
    };
    name.split('.').next().unwrap_or_default().to_owned()
}

/// (METHOD, path, binary) from every HttpApi event of every function in template.yaml.
fn event_routes() -> BTreeSet<(String, String, String)> {
    let template = template();
    let binaries = makefile_binaries();
    let mut routes = BTreeSet::new();
    for (id, resource) in template_functions(&template) {
        let binary = binaries
            .get(&id)
            .unwrap_or_else(|| panic!("{id} has no entry in the Makefile's LAMBDA_FUNCTIONS"))
            .clone();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() == Some("HttpApi") {
                routes.insert((
                    event["Properties"]["Method"]
                        .as_str()
                        .unwrap()
                        .to_uppercase(),
                    event["Properties"]["Path"].as_str().unwrap().to_owned(),
                    binary.clone(),
                ));
            }
        }
    }
    routes
}

/// (METHOD, path, binary) from every AWS::ApiGatewayV2::Route resource (the bearer routes),
/// following its integration to the function; each must be behind the JWT authorizer and
/// its function must let API Gateway invoke it.
fn bearer_resource_routes() -> BTreeSet<(String, String, String)> {
    let template = template();
    let resources = &template["Resources"];
    let binaries = makefile_binaries();
    let mut routes = BTreeSet::new();
    for (id, resource) in resources.as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::ApiGatewayV2::Route") {
            continue;
        }
        let id = id.as_str().unwrap();
        let properties = &resource["Properties"];
        assert_eq!(
            properties["AuthorizationType"].as_str(),
            Some("JWT"),
            "{id}"
        );
        assert_eq!(
            named_resource(&properties["AuthorizerId"]),
            "BearerAuthorizer",
            "{id}"
        );
        let integration = named_resource(&properties["Target"]);
        let function =
            named_resource(&resources[integration.as_str()]["Properties"]["IntegrationUri"]);
        let invokable = resources.as_mapping().unwrap().values().any(|r| {
            r["Type"].as_str() == Some("AWS::Lambda::Permission")
                && named_resource(&r["Properties"]["FunctionName"]) == function
                && r["Properties"]["Principal"].as_str() == Some("apigateway.amazonaws.com")
        });
        assert!(invokable, "{id}: API Gateway may not invoke {function}");
        let (method, path) = properties["RouteKey"]
            .as_str()
            .unwrap()
            .split_once(' ')
            .unwrap();
        let binary = binaries
            .get(&function)
            .unwrap_or_else(|| panic!("{id}: {function} is not in LAMBDA_FUNCTIONS"));
        routes.insert((method.to_owned(), path.to_owned(), binary.clone()));
    }
    routes
}

fn template_routes() -> BTreeSet<(String, String, String)> {
    event_routes()
        .into_iter()
        .chain(bearer_resource_routes())
        .collect()
}

#[test]
fn bearer_routes_and_only_they_are_behind_the_jwt_authorizer() {
    let bearer: BTreeSet<(String, String)> = bearer_resource_routes()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let expected: BTreeSet<(String, String)> = BEARER_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(bearer, expected);
    for (method, path, _) in event_routes() {
        assert!(
            !expected.contains(&(method.clone(), path.clone())),
            "{method} {path} is a bearer route but has a plain HttpApi event"
        );
    }
    // The authorizer expects the tokens the functions sign: their issuer and audience.
    let template = template();
    let jwt = &template["Resources"]["BearerAuthorizer"]["Properties"]["JwtConfiguration"];
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(jwt["Issuer"], globals["ISSUER"]);
    assert_eq!(jwt["Audience"][0], globals["JWT_AUDIENCE"]);
}

#[test]
fn the_local_router_serves_exactly_the_deployed_routes() {
    let local = router_routes();
    let deployed = template_routes();
    assert!(!local.is_empty());
    assert_eq!(
        local, deployed,
        "Cargo.toml router vs template.yaml HttpApi events"
    );
}

/// (METHOD, path, binary) from the HttpApi's OpenAPI body, which names each function by its
/// `FunctionName` (`${AWS::StackName}-<binary>`) so the API does not depend on the functions.
fn definition_body_routes() -> BTreeSet<(String, String, String)> {
    let template: Value = serde_yaml_ng::from_str(&workspace_file("template.yaml")).unwrap();
    let paths = template["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]["paths"]
        .as_mapping()
        .expect("an OpenAPI body with paths");
    let mut routes = BTreeSet::new();
    for (path, methods) in paths {
        for (method, operation) in methods.as_mapping().unwrap() {
            let uri =
                serde_yaml_ng::to_string(&operation["x-amazon-apigateway-integration"]["uri"])
                    .unwrap();
            let function = uri
                .split("function:${AWS::StackName}-")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_else(|| panic!("{uri}"))
                .to_owned();
            routes.insert((
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap().to_owned(),
                function,
            ));
        }
    }
    routes
}

#[test]
fn the_api_definition_names_the_same_functions_as_the_events() {
    assert_eq!(definition_body_routes(), event_routes());
}

#[test]
fn every_routed_function_is_a_workspace_member() {
    let manifest: toml::Table = workspace_file("Cargo.toml").parse().unwrap();
    let members: Vec<&str> = manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    for (_, _, function) in router_routes() {
        assert!(
            members.contains(&format!("functions/{function}").as_str()),
            "{function}"
        );
    }
}

#[test]
fn sam_build_builds_every_template_function_from_a_workspace_function() {
    let template: Value = serde_yaml_ng::from_str(&workspace_file("template.yaml")).unwrap();
    let functions = template_functions(&template);
    let binaries = makefile_binaries();
    assert_eq!(
        functions.keys().collect::<Vec<_>>(),
        binaries.keys().collect::<Vec<_>>(),
        "template.yaml functions vs the Makefile's LAMBDA_FUNCTIONS"
    );
    for (id, resource) in &functions {
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("makefile"),
            "{id}: sam build must run the Makefile's build-{id}"
        );
    }
    let manifest: toml::Table = workspace_file("Cargo.toml").parse().unwrap();
    let members: Vec<&str> = manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    for (id, binary) in &binaries {
        assert!(
            members.contains(&format!("functions/{binary}").as_str()),
            "{id}: {binary} is not a package under functions/"
        );
    }
}

#[test]
fn the_local_table_has_the_template_s_key_and_ttl() {
    let template: Value = serde_yaml_ng::from_str(&workspace_file("template.yaml")).unwrap();
    let table = &template["Resources"]["AuthTable"]["Properties"];
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(auth_tools::setup::TTL_ATTRIBUTE)
    );
    let keys: Vec<(&str, &str)> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, vec![("pk", "HASH"), ("sk", "RANGE")]);
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"].as_str(),
        Some("NEW_IMAGE")
    );
    let indexes: BTreeSet<(String, String, String, Vec<String>)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|index| {
            let key = |kind: &str| {
                index["KeySchema"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .find(|k| k["KeyType"].as_str() == Some(kind))
                    .and_then(|k| k["AttributeName"].as_str())
                    .unwrap()
                    .to_owned()
            };
            let projected: Vec<String> = index["Projection"]["NonKeyAttributes"]
                .as_sequence()
                .map(|a| a.iter().map(|a| a.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            (
                index["IndexName"].as_str().unwrap().to_owned(),
                key("HASH"),
                key("RANGE"),
                projected,
            )
        })
        .collect();
    let local: BTreeSet<(String, String, String, Vec<String>)> = auth_tools::setup::INDEXES
        .iter()
        .map(|(n, h, r, p)| {
            (
                (*n).to_owned(),
                (*h).to_owned(),
                (*r).to_owned(),
                p.iter().map(|a| (*a).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(indexes, local, "template.yaml indexes vs local-setup's");
}

#[test]
fn the_stage_throttle_is_set_by_parameters() {
    let template = template();
    let settings = &template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"];
    for (setting, parameter) in [
        ("ThrottlingRateLimit", "ThrottleRateLimit"),
        ("ThrottlingBurstLimit", "ThrottleBurstLimit"),
    ] {
        let value = serde_yaml_ng::to_string(&settings[setting]).unwrap();
        assert!(
            value.contains("!Ref") && value.contains(parameter),
            "{setting} is {value}, not the {parameter} parameter"
        );
        assert!(
            template["Parameters"][parameter]["Default"].is_number(),
            "{parameter} has a default"
        );
    }
}

#[test]
fn the_one_bootstrap_runs_every_function_by_the_handler_the_template_gives_it() {
    let template = template();
    let functions = template_functions(&template);
    let dispatch = workspace_file("bootstrap/src/main.rs");
    let binaries = makefile_binaries();
    for (id, binary) in &binaries {
        assert_eq!(
            functions[id]["Properties"]["Handler"].as_str(),
            Some(binary.as_str()),
            "{id}'s Handler must name its function"
        );
        let crate_name = binary.replace('-', "_");
        assert!(
            dispatch.contains(&format!("\"{binary}\" => {crate_name}::run().await")),
            "bootstrap/src/main.rs does not run {binary}"
        );
    }
    let arms = dispatch.matches("::run().await,").count();
    assert_eq!(
        arms,
        binaries.len(),
        "the bootstrap runs a function no template function names"
    );
}
