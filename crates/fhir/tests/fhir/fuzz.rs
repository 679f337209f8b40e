#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fuzz-style properties of the importer: every broken input is an `Err`
//! whose message names the field; nothing panics.

use needlewise_core::evidence;
use needlewise_fhir::{MAX_IMPORT_BYTES, import_response};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::import::{today, valid};

fn import_bytes(bytes: &[u8]) -> Result<(), String> {
    import_response(evidence(), bytes, today())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Every node of a JSON value with its path segments.
fn nodes(v: &Value, at: Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = at.clone();
                p.push(Seg::Key(k.clone()));
                out.push(p.clone());
                nodes(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = at.clone();
                p.push(Seg::Index(i));
                out.push(p.clone());
                nodes(x, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `item[3].answer[0].valueBoolean`, the importer's own notation.
fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) || (a.is_number() && b.is_number())
}

fn all_nodes() -> Vec<Vec<Seg>> {
    let mut out = Vec::new();
    nodes(&valid(), Vec::new(), &mut out);
    out
}

/// The field an error must name for a change at `path`: the element's
/// container (or the element itself at the top level).
fn named(path: &[Seg]) -> String {
    let parent = dotted(&path[..path.len() - 1]);
    if parent.is_empty() {
        dotted(path)
    } else {
        parent
    }
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\u{0}".to_owned()),
        Just("\u{202e}gnp.exe".to_owned()),
        Just("a\u{0}b\u{202e}c\u{2066}".to_owned()),
        Just("x".repeat(100_000)),
        Just("é".repeat(50_000)),
        Just("\u{feff}\u{200b}true".to_owned()),
        Just("🦄".repeat(1000)),
        Just("<script>alert(1)</script>".to_owned()),
        Just("../../etc/passwd".to_owned()),
        "\\PC{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn truncated_json_is_an_error_with_a_position(cut in 0usize..10_000) {
        let bytes = serde_json::to_vec(&valid()).unwrap();
        let cut = cut % bytes.len();
        let e = import_bytes(&bytes[..cut]).unwrap_err();
        prop_assert!(e.starts_with("(json) line "), "{e}");
    }

    #[test]
    fn oversized_input_is_refused_before_parsing(extra in 1usize..100_000) {
        let mut bytes = serde_json::to_vec(&valid()).unwrap();
        bytes.resize(MAX_IMPORT_BYTES + extra, b' ');
        let e = import_bytes(&bytes).unwrap_err();
        prop_assert!(e.starts_with("(input): is "), "{e}");
    }

    #[test]
    fn a_wrong_type_anywhere_names_the_field(
        pick in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            Just(Value::Null), Just(json!(true)), Just(json!(7)), Just(json!(-1.5)),
            Just(json!("text")), Just(json!([])), Just(json!([1])), Just(json!({})),
            Just(json!({"a": 1})),
        ],
    ) {
        let nodes = all_nodes();
        let path = &nodes[pick.index(nodes.len())];
        let mut v = valid();
        let slot = get_mut(&mut v, path);
        prop_assume!(!same_type(slot, &replacement));
        // Free text is free: a wrong type is still refused, but any string is fine.
        *slot = replacement;
        let e = import_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        let want = named(path);
        prop_assert!(e.contains(&want), "{} -> {e}", dotted(path));
    }

    #[test]
    fn an_unknown_element_is_named(
        pick in any::<prop::sample::Index>(),
        key in "[a-z]{1,8}_[a-z]{0,4}",
    ) {
        let mut objects: Vec<Vec<Seg>> = all_nodes()
            .into_iter()
            .filter(|p| {
                let d = dotted(p);
                // The objects the importer reads: the items, their answers and codings.
                matches!(p.last(), Some(Seg::Index(_))) && (d.ends_with(']') && (d.contains("item[")))
                    || d.ends_with("valueCoding")
            })
            .collect();
        objects.push(Vec::new());
        let path = &objects[pick.index(objects.len())];
        let mut v = valid();
        let slot = get_mut(&mut v, path);
        prop_assume!(slot.is_object());
        slot[key.as_str()] = json!(1);
        let e = import_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        prop_assert!(e.contains(&format!("\"{key}\"")), "{e}");
        prop_assert!(e.contains(&dotted(path)), "{e}");
    }

    #[test]
    fn hostile_strings_never_panic_and_never_reach_a_message_raw(
        pick in any::<prop::sample::Index>(),
        s in hostile(),
    ) {
        let mut v2 = valid();
        let strings: Vec<Vec<Seg>> =
            all_nodes().into_iter().filter(|p| get_mut(&mut v2, p).is_string()).collect();
        let path = &strings[pick.index(strings.len())];
        let mut v = valid();
        *get_mut(&mut v, path) = Value::String(s.clone());
        let free = matches!(path.last(), Some(Seg::Key(k)) if k == "text" || k == "display");
        match import_bytes(&serde_json::to_vec(&v).unwrap()) {
            Ok(()) => prop_assert!(free || s.is_empty(), "{} accepted {s:?}", dotted(path)),
            Err(e) => {
                prop_assert!(e.contains(&named(path)), "{} -> {e}", dotted(path));
                prop_assert!(e.len() < 2_000, "{} bytes", e.len());
                prop_assert!(!e.contains(['\u{0}', '\u{202e}', '\u{2066}', '\u{feff}']), "{e:?}");
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(depth in 1usize..400) {
        let mut item = json!({"linkId": "age", "answer": [{"valueInteger": 30}]});
        for _ in 0..depth {
            item = json!({"linkId": "antiviral_plan_confirmed.if1", "item": [item]});
        }
        let v = json!({"resourceType": "QuestionnaireResponse", "status": "completed", "item": [item]});
        let text = serde_json::to_string(&v).unwrap();
        // Nesting is allowed by FHIR; it parses or is refused by the
        // parser's depth limit, and never overflows the stack.
        match import_bytes(text.as_bytes()) {
            Ok(()) => prop_assert!(depth < 64),
            Err(e) => prop_assert!(e.starts_with("(json) line ") && e.contains("recursion limit"), "{e}"),
        }
        let mut arr = json!([]);
        for _ in 0..depth { arr = json!([arr]); }
        let v = json!({"resourceType": "QuestionnaireResponse", "status": "completed", "item": [{"linkId": "age", "answer": [{"valueInteger": arr}]}]});
        let e = import_bytes(serde_json::to_string(&v).unwrap().as_bytes()).unwrap_err();
        prop_assert!(e.contains("item[0].answer[0]") || e.starts_with("(json) line "), "{e}");
    }
}
