//! The generator on a JSON Schema and a protobuf event: names, types,
//! required and optional properties, enums, nested objects and lists, doc
//! comments, and deterministic output.

use super::*;
use crate::schema::{Schema, content_id};

fn catalog() -> Catalog {
    let mut c = Catalog::default();
    let json = r#"{
      "title": "Order Completed", "description": "A customer paid.", "type": "object",
      "properties": {
        "orderId": {"type": "string", "minLength": 1, "description": "The order's id."},
        "total": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD"]},
        "coupon": {"type": ["string", "null"]},
        "items": {"type": "array", "items": {"type": "object",
          "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}}, "required": ["sku"]}},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "in": {"type": "boolean"}
      },
      "required": ["orderId", "total", "coupon"]
    }"#;
    let proto = "syntax = \"proto3\";\n// Someone opened the checkout.\nmessage CheckoutStarted {\n  // The cart.\n  string cart_id = 1;\n  repeated LineItem items = 2;\n  Stage stage = 3;\n  int64 item_count = 4;\n}\nmessage LineItem { string sku = 1; }\nenum Stage { STAGE_UNKNOWN = 0; STAGE_CART = 1; }\n";
    for (subject, t, text) in [
        ("shop.order_completed", SchemaType::Json, json),
        ("shop.checkout_started", SchemaType::Protobuf, proto),
        ("shop.identify", SchemaType::Json, r#"{"type": "object"}"#),
        ("other.thing", SchemaType::Json, r#"{"type": "object"}"#),
    ] {
        c.insert(Schema {
            id: content_id(t, text),
            subject: subject.into(),
            version: 1,
            schema_type: t,
            text: text.into(),
        })
        .unwrap();
    }
    c
}

fn code(lang: Lang) -> String {
    generate(
        &catalog(),
        &Request {
            app: "shop",
            lang,
            package: None,
        },
    )
    .unwrap()
}

#[test]
fn events_are_read_from_both_schema_languages() {
    let events = events(&catalog(), "shop").unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["Checkout Started", "Order Completed"],
        "identify and other apps left out"
    );
    let order = &events[1].properties;
    let f = |n: &str| order.fields.iter().find(|f| f.wire == n).unwrap();
    assert!(f("orderId").required && !f("currency").required);
    assert!(f("coupon").required && f("coupon").nullable);
    assert_eq!(
        f("orderId").doc,
        ["The order's id.", "Constraints: length ≥ 1."]
    );
    assert!(
        matches!(&f("items").ty, Type::Array(t) if matches!(&**t, Type::Object(o) if o.name == "OrderCompletedItem"))
    );
    assert!(matches!(&f("tags").ty, Type::Map(t) if matches!(**t, Type::String)));
    let checkout = &events[0].properties;
    assert_eq!(
        checkout.doc.as_deref(),
        Some("Someone opened the checkout.")
    );
    let wires: Vec<&str> = checkout.fields.iter().map(|f| f.wire.as_str()).collect();
    assert_eq!(
        wires,
        ["cartId", "items", "stage", "itemCount"],
        "protobuf's JSON names"
    );
    assert_eq!(checkout.fields[0].doc, ["The cart."]);
    assert!(
        checkout.fields.iter().all(|f| !f.required),
        "proto3 fields are optional"
    );
}

#[test]
fn typescript_types_each_property() {
    let ts = code(Lang::TypeScript);
    for want in [
        "export type OrderCompletedCurrency = \"EUR\" | \"USD\";",
        "  orderId: string;",
        "  total: number;",
        "  currency?: OrderCompletedCurrency;",
        "  coupon: string | null;",
        "  items?: OrderCompletedItem[];",
        "  tags?: { [key: string]: string };",
        "export type CheckoutStartedStage = \"STAGE_UNKNOWN\" | \"STAGE_CART\";",
        "  items?: CheckoutStartedLineItem[];",
        "export class ShopTracking {",
        "  orderCompleted(properties: OrderCompleted): boolean {\n    return this.sdk.track(\"Order Completed\", properties);",
        "  checkoutStarted(properties: CheckoutStarted = {}): boolean {",
        " * Schema `shop.order_completed` version 1 (JSON Schema).",
    ] {
        assert!(ts.contains(want), "missing {want:?} in\n{ts}");
    }
    assert_eq!(ts, code(Lang::TypeScript), "deterministic");
}

#[test]
fn kotlin_puts_required_parameters_first_and_leaves_out_nulls() {
    let kt = code(Lang::Kotlin);
    for want in [
        "package tributary.tracking.shop",
        "enum class OrderCompletedCurrency(val wire: String) { EUR(\"EUR\"), USD(\"USD\") }",
        "data class OrderCompletedItem(\n    val sku: String,\n    val quantity: Long? = null,\n)",
        "    fun orderCompleted(\n        coupon: String?,\n        orderId: String,\n        total: Double,\n        currency: OrderCompletedCurrency? = null,",
        "        `in`: Boolean? = null,",
        "        if (currency != null) put(\"currency\", currency.wire)",
        "        if (items != null) put(\"items\", items.map { it.toMap() })",
        "        put(\"coupon\", coupon?.let { it })",
        "        if (`in` != null) put(\"in\", `in`)",
    ] {
        assert!(kt.contains(want), "missing {want:?} in\n{kt}");
    }
}

#[test]
fn swift_has_a_struct_per_nested_object() {
    let sw = code(Lang::Swift);
    for want in [
        "public enum OrderCompletedCurrency: String {\n    case eur = \"EUR\"",
        "public struct OrderCompletedItem {",
        "    public static func orderCompleted(coupon: String?, orderId: String, total: Double, currency: OrderCompletedCurrency? = nil",
        "`in`: Bool? = nil",
        "        if let v = items { p[\"items\"] = v.map { $0.json } }",
        "        p[\"coupon\"] = coupon.map { $0 } ?? NSNull()",
        "        Tributary.track(\"Order Completed\", p)",
    ] {
        assert!(sw.contains(want), "missing {want:?} in\n{sw}");
    }
}

#[test]
fn an_app_without_schemas_is_an_error() {
    let e = generate(
        &catalog(),
        &Request {
            app: "nope",
            lang: Lang::TypeScript,
            package: None,
        },
    )
    .unwrap_err();
    assert!(e.contains("no event schemas for app \"nope\""), "{e}");
}
