#include "server/service/http_transcode.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/type.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace banditd::service {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

// The generated pool's types as protobuf's JSON converter asks for them,
// each converted once. (Its own resolver converts a descriptor into a
// google.protobuf.Type again for every message type of every call.)
class CachingTypeResolver final : public google::protobuf::util::TypeResolver {
 public:
  CachingTypeResolver()
      : base_(google::protobuf::util::NewTypeResolverForDescriptorPool(
            kTypeUrlPrefix,
            google::protobuf::DescriptorPool::generated_pool())) {}

  google::protobuf::util::Status ResolveMessageType(
      const std::string& type_url, google::protobuf::Type* type) override {
    return Resolve(type_url, type, types_,
                   &google::protobuf::util::TypeResolver::ResolveMessageType);
  }
  google::protobuf::util::Status ResolveEnumType(
      const std::string& type_url, google::protobuf::Enum* type) override {
    return Resolve(type_url, type, enums_,
                   &google::protobuf::util::TypeResolver::ResolveEnumType);
  }

 private:
  template <typename T>
  google::protobuf::util::Status Resolve(
      const std::string& type_url, T* out,
      absl::flat_hash_map<std::string, T>& cache,
      google::protobuf::util::Status (
          google::protobuf::util::TypeResolver::*resolve)(const std::string&,
                                                          T*)) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = cache.find(type_url); it != cache.end()) {
        *out = it->second;
        return google::protobuf::util::Status();
      }
    }
    T resolved;
    google::protobuf::util::Status status =
        (base_.get()->*resolve)(type_url, &resolved);
    if (!status.ok()) return status;
    *out = resolved;
    absl::MutexLock lock(&mu_);
    cache.emplace(type_url, std::move(resolved));
    return status;
  }

  const std::unique_ptr<google::protobuf::util::TypeResolver> base_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, google::protobuf::Type> types_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, google::protobuf::Enum> enums_
      ABSL_GUARDED_BY(mu_);
};

google::protobuf::util::TypeResolver* Resolver() {
  static auto* resolver = new CachingTypeResolver();
  return resolver;
}

std::string TypeUrl(const Descriptor* type) {
  return absl::StrCat(kTypeUrlPrefix, "/", type->full_name());
}

template <typename S>
std::string StatusText(const S& status) {
  return std::string(status.message().data(), status.message().size());
}

const FieldDescriptor* FindField(const Descriptor* type,
                                 const std::string& name) {
  const FieldDescriptor* field = type->FindFieldByName(name);
  if (field == nullptr) field = type->FindFieldByCamelcaseName(name);
  return field;
}

// Sets (or, for a repeated field, appends) one scalar from its text.
absl::Status SetScalar(Message* message, const FieldDescriptor* field,
                       const std::string& text, const std::string& where) {
  const Reflection* r = message->GetReflection();
  const bool repeated = field->is_repeated();
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", text, "\" is not ", what));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": bytes fields go in the JSON body"));
      }
      // What parsing the request's bytes would refuse (a gRPC call cannot
      // carry it): percent-decoding can make any bytes.
      if (!google::protobuf::internal::IsStructurallyValidUTF8(
              text.data(), static_cast<int>(text.size()))) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": not valid UTF-8 (string fields must be)"));
      }
      repeated ? r->AddString(message, field, text)
               : r->SetString(message, field, text);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a 32-bit integer");
      repeated ? r->AddInt32(message, field, v)
               : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      repeated ? r->AddInt64(message, field, v)
               : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an unsigned integer");
      repeated ? r->AddUInt32(message, field, v)
               : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an unsigned integer");
      repeated ? r->AddUInt64(message, field, v)
               : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(text, &v)) return bad("a number");
      repeated ? r->AddDouble(message, field, v)
               : r->SetDouble(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(text, &v)) return bad("a number");
      repeated ? r->AddFloat(message, field, v)
               : r->SetFloat(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (text == "true" || text == "1") {
        v = true;
      } else if (text == "false" || text == "0") {
        v = false;
      } else {
        return bad("true or false");
      }
      repeated ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const google::protobuf::EnumValueDescriptor* value =
          field->enum_type()->FindValueByName(text);
      int number;
      if (value == nullptr && absl::SimpleAtoi(text, &number)) {
        value = field->enum_type()->FindValueByNumber(number);
      }
      if (value == nullptr) {
        return bad(
            absl::StrCat("a value of ", field->enum_type()->full_name()));
      }
      repeated ? r->AddEnum(message, field, value)
               : r->SetEnum(message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       ": a message; name one of its fields with '.' "
                       "or put it in the JSON body"));
  }
  return absl::InternalError(absl::StrCat(where, ": unknown field type"));
}

// Sets the field at dotted `path` (for example "policy.type") from `text`.
absl::Status SetPath(Message* request, const std::string& path,
                     const std::string& text, const std::string& where) {
  Message* message = request;
  std::vector<std::string> names = absl::StrSplit(path, '.');
  for (size_t i = 0; i < names.size(); ++i) {
    const FieldDescriptor* field =
        FindField(message->GetDescriptor(), names[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": no field \"", names[i], "\" in ",
                       message->GetDescriptor()->full_name()));
    }
    if (i + 1 == names.size()) return SetScalar(message, field, text, where);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        field->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": \"", names[i], "\" is not a singular message field"));
    }
    message = message->GetReflection()->MutableMessage(message, field);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FillRequest(
    const HttpMatch& match, absl::string_view body,
    const std::vector<std::pair<std::string, std::string>>& query,
    Message* request) {
  const HttpRoute& route = *match.route;
  if (!route.body.empty() && !body.empty()) {
    Message* target = request;
    if (route.body != "*") {
      target = request->GetReflection()->MutableMessage(
          request, request->GetDescriptor()->FindFieldByName(route.body));
    }
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    // What JsonStringToMessage does, with the cached types.
    std::string binary;
    auto parsed = google::protobuf::util::JsonToBinaryString(
        Resolver(), TypeUrl(target->GetDescriptor()),
        google::protobuf::StringPiece(body.data(), body.size()), &binary,
        options);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("body: ", StatusText(parsed)));
    }
    if (!target->ParseFromString(binary)) {
      return absl::InvalidArgumentError("body: not a valid request");
    }
  }
  for (const auto& [name, value] : query) {
    if (route.body == "*") {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter \"", name, "\": ", route.method->name(),
                       " takes its fields in the JSON body"));
    }
    absl::Status set = SetPath(request, name, value,
                               absl::StrCat("query parameter \"", name, "\""));
    if (!set.ok()) return set;
  }
  for (const auto& [name, value] : match.variables) {
    absl::Status set =
        SetScalar(request, request->GetDescriptor()->FindFieldByName(name),
                  value, absl::StrCat("path {", name, "}"));
    if (!set.ok()) return set;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResponseBytesToJson(const Descriptor* type,
                                                absl::string_view bytes) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  auto printed = google::protobuf::util::BinaryToJsonString(
      Resolver(), TypeUrl(type), std::string(bytes), &json, options);
  if (!printed.ok()) return absl::InternalError(StatusText(printed));
  return json;
}

absl::StatusOr<std::string> ResponseToJson(const Message& response) {
  return ResponseBytesToJson(response.GetDescriptor(),
                             response.SerializeAsString());
}

std::string ErrorToJson(int code, absl::string_view message,
                        absl::string_view details_bytes) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // The rich form: google.rpc.Status with its Any details, when the server
  // links those types (the service attaches e.g. google.rpc.BadRequest).
  const Descriptor* status_type =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
          "google.rpc.Status");
  if (status_type != nullptr) {
    std::unique_ptr<Message> status(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(status_type)
            ->New());
    bool filled =
        !details_bytes.empty() &&
        status->ParseFromArray(details_bytes.data(),
                               static_cast<int>(details_bytes.size()));
    if (!filled) {
      // No details: a Status of code and message still prints its fields in
      // declaration order (code, message, details), unlike a Struct's map.
      status->Clear();
      const google::protobuf::Reflection* reflection = status->GetReflection();
      reflection->SetInt32(status.get(), status_type->FindFieldByName("code"),
                           code);
      reflection->SetString(status.get(),
                            status_type->FindFieldByName("message"),
                            std::string(message));
    }
    if (google::protobuf::util::MessageToJsonString(*status, &json, options)
            .ok()) {
      return json;
    }
    json.clear();
  }
  // Without google.rpc.Status linked: a google.protobuf.Struct, so the JSON
  // printer does the quoting (its key order is unspecified).
  google::protobuf::Struct error;
  auto& fields = *error.mutable_fields();
  fields["code"].set_number_value(code);
  fields["message"].set_string_value(std::string(message));
  fields["details"].mutable_list_value();
  if (!google::protobuf::util::MessageToJsonString(error, &json, options)
           .ok()) {
    return R"({"code":13,"message":"cannot print the error","details":[]})";
  }
  return json;
}

}  // namespace banditd::service
