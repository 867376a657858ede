#include "server/cluster/object_layout.h"

#include <openssl/evp.h>

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace banditd::cluster::object_layout {

namespace {

// Go's base64.URLEncoding pads to a multiple of 4; Abseil's web-safe
// encoding does not.
std::string PaddedBase64Url(absl::string_view bytes) {
  std::string out = absl::WebSafeBase64Escape(bytes);
  out.append((4 - out.size() % 4) % 4, '=');
  return out;
}

}  // namespace

bool ValidBucket(absl::string_view bucket) {
  return !bucket.empty() &&
         std::all_of(bucket.begin(), bucket.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '_' || c == '-';
         });
}

std::string StreamName(absl::string_view bucket) {
  return absl::StrCat("OBJ_", bucket);
}
std::string ChunkSubjects(absl::string_view bucket) {
  return absl::StrCat("$O.", bucket, ".C.>");
}
std::string MetaSubjects(absl::string_view bucket) {
  return absl::StrCat("$O.", bucket, ".M.>");
}
std::string ChunkSubject(absl::string_view bucket, absl::string_view nuid) {
  return absl::StrCat("$O.", bucket, ".C.", nuid);
}
std::string MetaSubject(absl::string_view bucket, absl::string_view name) {
  return absl::StrCat("$O.", bucket, ".M.", EncodeName(name));
}

std::string EncodeName(absl::string_view name) { return PaddedBase64Url(name); }

std::string Digest(absl::string_view data) {
  unsigned char sha[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), sha, &length, EVP_sha256(), nullptr);
  return absl::StrCat("SHA-256=", PaddedBase64Url(absl::string_view(
                                      reinterpret_cast<char*>(sha), length)));
}

std::string NewNuid() {
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
  std::string nuid(22, '0');
  for (char& c : nuid) c = kDigits[rng() % (sizeof(kDigits) - 1)];
  return nuid;
}

std::vector<absl::string_view> SplitChunks(absl::string_view data,
                                           size_t chunk_bytes) {
  std::vector<absl::string_view> chunks;
  for (size_t at = 0; at < data.size(); at += chunk_bytes) {
    chunks.push_back(data.substr(at, chunk_bytes));
  }
  return chunks;
}

std::string MetaJson(const ObjectInfo& info) {
  nlohmann::json json = {
      {"name", info.name},
      {"bucket", info.bucket},
      {"nuid", info.nuid},
      {"size", info.size},
      // UTC with "Z", as Go's time.Time marshals.
      {"mtime", absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", info.mtime,
                                 absl::UTCTimeZone())},
      {"chunks", info.chunks},
  };
  if (!info.description.empty()) json["description"] = info.description;
  if (!info.metadata.empty()) json["metadata"] = info.metadata;
  if (info.max_chunk_size > 0) {
    json["options"] = {{"max_chunk_size", info.max_chunk_size}};
  }
  if (!info.digest.empty()) json["digest"] = info.digest;
  if (info.deleted) json["deleted"] = true;
  return json.dump();
}

absl::StatusOr<ObjectInfo> ParseMetaJson(absl::string_view text) {
  const nlohmann::json json =
      nlohmann::json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return absl::InvalidArgumentError("object meta: not a JSON object");
  }
  ObjectInfo info;
  // Reads an optional field of the expected JSON type.
  auto field = [&](const char* name, auto check, auto* out) -> absl::Status {
    auto it = json.find(name);
    if (it == json.end() || it->is_null()) return absl::OkStatus();
    if (!check(*it)) {
      return absl::InvalidArgumentError(
          absl::StrCat("object meta: field \"", name, "\" has the wrong type"));
    }
    it->get_to(*out);
    return absl::OkStatus();
  };
  auto is_string = [](const nlohmann::json& j) { return j.is_string(); };
  auto is_count = [](const nlohmann::json& j) {
    return j.is_number_unsigned();
  };
  std::string mtime;
  for (absl::Status s : {
           field("name", is_string, &info.name),
           field("description", is_string, &info.description),
           field("bucket", is_string, &info.bucket),
           field("nuid", is_string, &info.nuid),
           field("size", is_count, &info.size),
           field("chunks", is_count, &info.chunks),
           field("digest", is_string, &info.digest),
           field("mtime", is_string, &mtime),
           field(
               "deleted",
               [](const nlohmann::json& j) { return j.is_boolean(); },
               &info.deleted),
       }) {
    if (!s.ok()) return s;
  }
  if (auto it = json.find("metadata"); it != json.end() && !it->is_null()) {
    if (!it->is_object()) {
      return absl::InvalidArgumentError(
          "object meta: field \"metadata\" is not an object");
    }
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "object meta: metadata \"", key, "\" is not a string"));
      }
      info.metadata[key] = value.get<std::string>();
    }
  }
  if (auto it = json.find("options"); it != json.end() && it->is_object()) {
    if (auto size = it->find("max_chunk_size");
        size != it->end() && size->is_number_unsigned()) {
      info.max_chunk_size = size->get<uint32_t>();
    }
  }
  if (info.name.empty()) {
    return absl::InvalidArgumentError("object meta: field \"name\" is missing");
  }
  if (!info.deleted && info.size > 0 && info.nuid.empty()) {
    return absl::InvalidArgumentError("object meta: field \"nuid\" is missing");
  }
  std::string error;
  if (!mtime.empty() &&
      !absl::ParseTime(absl::RFC3339_full, mtime, &info.mtime, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("object meta: field \"mtime\": ", error));
  }
  return info;
}

}  // namespace banditd::cluster::object_layout
