#include "server/service/request_parse.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace banditd::service {
namespace {

// Deeper nesting than protobuf's own parser allows is not walked.
constexpr int kMaxDepth = 100;

std::string FindInvalidUtf8At(const google::protobuf::Descriptor* type,
                              absl::string_view bytes,
                              const std::string& prefix, int depth) {
  if (depth > kMaxDepth) return "";
  // The unknown-field parser reads any well-formed wire data without
  // checking UTF-8; the descriptor says which fields are strings.
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return "";
  }
  absl::flat_hash_map<int, int> seen;  // field number -> elements so far
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& field = fields.field(i);
    if (field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    const google::protobuf::FieldDescriptor* descriptor =
        type->FindFieldByNumber(field.number());
    if (descriptor == nullptr) continue;
    const int index = seen[field.number()]++;
    std::string path =
        absl::StrCat(prefix, prefix.empty() ? "" : ".", descriptor->name());
    if (descriptor->is_repeated()) absl::StrAppend(&path, "[", index, "]");
    if (descriptor->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      const std::string& value = field.length_delimited();
      if (!google::protobuf::internal::IsStructurallyValidUTF8(
              value.data(), static_cast<int>(value.size()))) {
        return path;
      }
    } else if (descriptor->type() ==
               google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      std::string inner =
          FindInvalidUtf8At(descriptor->message_type(),
                            field.length_delimited(), path, depth + 1);
      if (!inner.empty()) return inner;
    }
  }
  return "";
}

}  // namespace

std::string FindInvalidUtf8(const google::protobuf::Descriptor* type,
                            absl::string_view bytes) {
  return FindInvalidUtf8At(type, bytes, "", 0);
}

absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message* request) {
  grpc::ByteBuffer buffer(bytes);  // the reader needs a mutable one
  {
    grpc::ProtoBufferReader reader(&buffer);
    if (reader.status().ok() && request->ParseFromZeroCopyStream(&reader)) {
      return absl::OkStatus();
    }
  }
  // The failure path only: find out why, for the client.
  std::vector<grpc::Slice> slices;
  std::string flat;
  if (bytes.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      flat.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  const std::string type = request->GetDescriptor()->full_name();
  if (std::string field = FindInvalidUtf8(request->GetDescriptor(), flat);
      !field.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ": not valid UTF-8 (string fields must be; the "
                     "request cannot be parsed as ",
                     type, ")"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the request (", flat.size(), " bytes) cannot be parsed as ",
                   type, ": it is not well-formed protobuf wire data"));
}

}  // namespace banditd::service
