//! The local router (`cargo lambda watch`) and the deployed API (template.yaml) must agree on
//! every route and the function behind it, and `sam build` (the Makefile) must build every
//! function of the template from its workspace binary.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

fn workspace_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (METHOD, path, binary) from `[workspace.metadata.lambda.watch.router]`.
fn router_routes() -> BTreeSet<(String, String, String)> {
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

/// (METHOD, path, binary) from every HttpApi event of every function in template.yaml.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let template: Value =
        serde_yaml_ng::from_str(&workspace_file("template.yaml")).expect("template parses");
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
    assert_eq!(definition_body_routes(), template_routes());
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
}
