// Envoy's metadata attributes (`metadata`, `xds.route_metadata`, `xds.cluster_metadata`, `xds.listener_metadata`,
// `xds.virtual_host_metadata`) are envoy.config.core.v3.Metadata messages in CEL, so they keep protobuf field
// semantics: `size(m.filter_metadata)` is 0 and `has(m.filter_metadata)` false while nothing is set. The emulator
// has no metadata configuration, so each is an empty message; the descriptor below declares just that message
// (its two map fields, numbered as in Envoy's base.proto) for @bufbuild/cel's registry. `xds.node` is an
// envoy.config.core.v3.Node message too, declared here with the two fields the emulator knows (id, cluster), so a
// bare `xds.node` serialises to protobuf bytes as in Envoy (where the message also lists the binary's extensions).

import { create, createFileRegistry, type DescMessage, type Message } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_any, file_google_protobuf_struct } from "@bufbuild/protobuf/wkt";

const LABEL_OPTIONAL = 1;
const LABEL_REPEATED = 3;
const TYPE_STRING = 9;
const TYPE_MESSAGE = 11;

const mapEntry = (name: string, valueType: string) => ({
  name,
  options: { mapEntry: true },
  field: [
    { name: "key", number: 1, label: LABEL_OPTIONAL, type: TYPE_STRING, jsonName: "key" },
    { name: "value", number: 2, label: LABEL_OPTIONAL, type: TYPE_MESSAGE, typeName: valueType, jsonName: "value" },
  ],
});

const BASE = create(FileDescriptorProtoSchema, {
  name: "envoy/config/core/v3/base.proto",
  package: "envoy.config.core.v3",
  syntax: "proto3",
  dependency: ["google/protobuf/struct.proto", "google/protobuf/any.proto"],
  messageType: [
    {
      name: "Metadata",
      field: [
        { name: "filter_metadata", number: 1, label: LABEL_REPEATED, type: TYPE_MESSAGE, typeName: ".envoy.config.core.v3.Metadata.FilterMetadataEntry", jsonName: "filterMetadata" },
        { name: "typed_filter_metadata", number: 2, label: LABEL_REPEATED, type: TYPE_MESSAGE, typeName: ".envoy.config.core.v3.Metadata.TypedFilterMetadataEntry", jsonName: "typedFilterMetadata" },
      ],
      nestedType: [mapEntry("FilterMetadataEntry", ".google.protobuf.Struct"), mapEntry("TypedFilterMetadataEntry", ".google.protobuf.Any")],
    },
    {
      name: "Node",
      field: [
        { name: "id", number: 1, label: LABEL_OPTIONAL, type: TYPE_STRING, jsonName: "id" },
        { name: "cluster", number: 2, label: LABEL_OPTIONAL, type: TYPE_STRING, jsonName: "cluster" },
      ],
    },
  ],
});

const DEPENDENCIES: Record<string, typeof file_google_protobuf_struct> = {
  "google/protobuf/struct.proto": file_google_protobuf_struct,
  "google/protobuf/any.proto": file_google_protobuf_any,
};

/** The registry CEL evaluates with: Envoy's Metadata and Node messages (and the well-known types they use). */
export const metadataRegistry = createFileRegistry(BASE, (name) => DEPENDENCIES[name]);

const METADATA = metadataRegistry.getMessage("envoy.config.core.v3.Metadata") as DescMessage;

/** The metadata attributes, by dotted name. */
export const METADATA_ATTRIBUTES = ["metadata", "xds.route_metadata", "xds.cluster_metadata", "xds.listener_metadata", "xds.virtual_host_metadata"];

/** An empty Metadata message, as Envoy shows metadata nothing was configured for. */
export function emptyMetadata(): Message {
  return create(METADATA);
}

const NODE = metadataRegistry.getMessage("envoy.config.core.v3.Node") as DescMessage;

/** A Node message with the id and cluster proxy_get_property answers for xds.node.id and xds.node.cluster. */
export function nodeMessage(id: string, cluster: string): Message {
  return create(NODE, { id, cluster } as never);
}
