#!/usr/bin/env python3
"""Writes event_path_corpus.json: the fixed input of the event-path tests
and of scripts/bench-instructions. Eight batches of the benchmark's
standard mix (loadtest/src/drive.rs), one batch of edge cases (every
optional header, merged and spaced contexts, each kind of rejection) and
one batch in the SDKs' shape (context only at batch level)."""
import json

common = {"app": {"version": "4.2.0", "build": "4200"}, "os": {"name": "Android", "version": "15"},
          "locale": "de-DE",
          "userAgent": "Mozilla/5.0 (Linux; Android 15; Pixel 9 Build/AP4A.250105.002) ShopApp/4.2.0 okhttp/4.12.0"}
batches = []
for b in range(8):
    events = []
    for i in range(100):
        mid, device = f"corpus-{b}-{i}", (b * 100 + i) % 5000
        if i % 4 == 3:
            props = {"cartId": f"cart-{b}-{i}", "value": 42.5, "currency": "EUR", "itemCount": "2",
                     "items": [{"sku": "sku-000123", "quantity": 1, "price": 20.0},
                               {"sku": "sku-000456", "quantity": 1, "price": 22.5}]}
            name = "Checkout Started"
        else:
            props = {"orderId": f"order-{b}-{i}", "total": 42.5, "currency": "EUR",
                     "items": [{"sku": "sku-000123", "quantity": 1}, {"sku": "sku-000456", "quantity": 2}]}
            name = "Order Completed"
        events.append({"type": "track", "event": name, "messageId": mid, "anonymousId": f"device-{device}",
                       "sessionId": 1764000000000 + device, "context": common, "properties": props})
    batches.append(json.dumps({"batch": events, "sentAt": "2026-11-25T10:00:00.000Z"}, separators=(",", ":")))

deep = 1
for _ in range(34):
    deep = [deep]
edge = [
    {"type": "track", "event": "Order Completed", "messageId": "e-merge", "userId": 42,
     "timestamp": "2026-11-25T09:59:58.000Z", "context": {"locale": "fr-FR", "ip": "10.0.0.1"},
     "properties": {"orderId": "o", "total": 1}},
    {"type": "track", "event": "Order Completed", "messageId": "e-space", "anonymousId": "a\u00e9",
     "sentAt": "2026-11-25T10:00:02.000Z", "timestamp": "2026-11-25T10:00:01.000Z",
     "context": {"a": [1, 2], "b": "x y"}, "custom_attributes": {"ab": "b"}, "integrations": {"All": True},
     "properties": {"orderId": "o2", "total": 0, "currency": "GBP"}},
    {"type": "track", "event": "Checkout Started", "messageId": "e-proto", "userId": "u-1", "anonymousId": "a-1",
     "groupId": "g", "properties": {"itemCount": "9007199254740993", "value": -1.5, "items": [], "cartId": "c"}},
    {"type": "track", "event": "Checkout Started", "messageId": "e-proto-unsure", "userId": "u-1",
     "properties": {"value": "1.5", "cartId": "c"}},
    {"type": "track", "event": "Order Completed", "messageId": "e-violation", "userId": "u",
     "properties": {"orderId": "", "total": -1}},
    {"type": "track", "event": "Checkout Started", "messageId": "e-proto-violation", "userId": "u",
     "properties": {"cartId": "c", "colour": "red"}},
    {"type": "track", "event": "Unknown Thing", "messageId": "e-unrouted", "userId": "u", "properties": {"x": 1}},
    {"type": "identify", "messageId": "e-identify", "userId": "u", "traits": {"email": "a@b.c"}},
    {"type": "page", "messageId": "e-page", "anonymousId": "a", "name": "Home", "properties": {"path": "/"}},
    {"type": "track", "event": "Order Completed", "userId": "u", "properties": {"orderId": "o", "total": 1}},
    {"type": "track", "event": "Order Completed", "messageId": "e-noid"},
    {"type": "bogus", "messageId": "e-type", "userId": "u"},
    {"type": "track", "event": "Order Completed", "messageId": "e-extra", "userId": "u",
     "properties": {"orderId": "o", "total": 1}, "extra_field": {"k": [1, {"z": None}]}},
    {"type": "track", "event": "Secret Event", "messageId": "e-denied", "userId": "u"},
    {"type": "track", "event": "Order Completed", "messageId": "e-deep", "userId": "u",
     "properties": {"orderId": "o", "total": 1, "n": deep}},
]
batches.append(json.dumps({"batch": edge, "sentAt": "2026-11-25T10:00:05.000Z",
                           "context": {"library": {"name": "corpus", "version": "1"}, "locale": "de-DE"}},
                          separators=(",", ":")))
sdk = [{"type": "screen", "messageId": f"s-{i}", "anonymousId": "d", "name": "Cart", "properties": {"n": i}}
       for i in range(3)]
batches.append(json.dumps({"batch": sdk, "context": {"os": {"name": "iOS"}}}))
with open("event_path_corpus.json", "w") as f:
    json.dump({"received_at": "2026-11-25T10:00:07.123Z", "batches": batches}, f, indent=0)
    f.write("\n")
