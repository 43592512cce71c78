"""Reads Tributary records from Kafka with Confluent's own Python
deserializers, pointed at the gateway's Schema Registry API.

Nothing here knows Tributary's framing: the records are decoded by
confluent-kafka's JSONDeserializer and ProtobufDeserializer, which fetch
the writer schema by the id in each value from `--registry`. The protobuf
message class is built from the descriptor the registry serves, as a
consumer without generated code would.

Prints one JSON line per record: topic, messageId header, decoded value.
Exit 0 when `--expect` records were decoded, 1 otherwise.
"""

import argparse
import base64
import json
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def protobuf_class(registry, schema_id):
    schema = registry.get_schema(schema_id, fmt="serialized")
    fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(schema.schema_str))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    name = (fdp.package + "." if fdp.package else "") + fdp.message_type[0].name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--json-topic", required=True)
    ap.add_argument("--protobuf-topic", required=True)
    ap.add_argument("--protobuf-schema-id", type=int, required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()

    registry = SchemaRegistryClient({"url": a.registry})
    json_de = JSONDeserializer(None, schema_registry_client=registry)
    proto_de = ProtobufDeserializer(
        protobuf_class(registry, a.protobuf_schema_id),
        {"use.deprecated.format": False},
        schema_registry_client=registry,
    )
    consumer = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "confluent-decode-%d" % time.time_ns(),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([a.json_topic, a.protobuf_topic])
    decoded = 0
    deadline = time.time() + a.timeout
    while decoded < a.expect and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            print("kafka error: %s" % msg.error(), file=sys.stderr)
            continue
        ctx = SerializationContext(msg.topic(), MessageField.VALUE, msg.headers())
        headers = {k: v.decode() for k, v in (msg.headers() or [])}
        if msg.topic() == a.protobuf_topic:
            obj = json_format.MessageToDict(proto_de(msg.value(), ctx), preserving_proto_field_name=True)
        else:
            obj = json_de(msg.value(), ctx)
        print(json.dumps({
            "topic": msg.topic(),
            "messageId": headers.get("tb-message-id"),
            "schema": headers.get("tb-schema"),
            "value": obj,
        }), flush=True)
        decoded += 1
    consumer.close()
    sys.exit(0 if decoded >= a.expect else 1)


if __name__ == "__main__":
    main()
