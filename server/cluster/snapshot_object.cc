#include "server/cluster/snapshot_object.h"

#include <cstdint>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace banditd::cluster::snapshot_object {

namespace {

constexpr char kFormatV1[] = "1";
constexpr absl::string_view kMagic = "banditd cluster snapshot v1\n";

void AppendLength(uint64_t length, std::string* out) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>(length >> (8 * i)));
}

uint64_t ReadLength(absl::string_view bytes) {
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) {
    length |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  }
  return length;
}

}  // namespace

std::string ObjectName(absl::string_view stream, absl::string_view filter) {
  return absl::StrCat(stream, "/", filter);
}

Encoded Encode(const SnapshotFile::Snapshot& snapshot,
               absl::string_view filter) {
  Encoded out;
  out.info.name = ObjectName(snapshot.stream, filter);
  out.info.description =
      absl::StrCat("banditd snapshot of stream ", snapshot.stream,
                   " up to seq ", snapshot.seq);
  out.info.metadata = {
      {kStream, snapshot.stream},
      {kStreamCreated, absl::StrCat(snapshot.stream_created)},
      {kSequence, absl::StrCat(snapshot.seq)},
      {kRooms, std::string(filter)},
      {kFormat, kFormatV1},
  };
  if (!snapshot.more.empty()) {
    std::string more;
    for (const SnapshotFile::Position& p : snapshot.more) {
      absl::StrAppend(&more, more.empty() ? "" : ",", p.stream, ":", p.created,
                      ":", p.seq);
    }
    out.info.metadata.emplace(kMoreStreams, std::move(more));
  }
  size_t size = kMagic.size();
  for (const std::string& chunk : snapshot.chunks) size += 8 + chunk.size();
  out.data.reserve(size);
  out.data.append(kMagic.data(), kMagic.size());
  for (const std::string& chunk : snapshot.chunks) {
    AppendLength(chunk.size(), &out.data);
    out.data.append(chunk);
  }
  return out;
}

absl::StatusOr<SnapshotFile::Snapshot> Decode(
    const object_layout::ObjectInfo& info, absl::string_view data) {
  auto meta = [&](const char* key) -> std::string {
    auto it = info.metadata.find(key);
    return it == info.metadata.end() ? "" : it->second;
  };
  if (meta(kFormat) != kFormatV1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "object \"", info.name, "\" has ", kFormat, " \"", meta(kFormat),
        "\", this replica reads \"", kFormatV1, "\""));
  }
  SnapshotFile::Snapshot snapshot;
  snapshot.stream = meta(kStream);
  if (snapshot.stream.empty() ||
      !absl::SimpleAtoi(meta(kStreamCreated), &snapshot.stream_created) ||
      !absl::SimpleAtoi(meta(kSequence), &snapshot.seq)) {
    return absl::InvalidArgumentError(
        absl::StrCat("object \"", info.name, "\" lacks a valid ", kStream, ", ",
                     kStreamCreated, " or ", kSequence, " in its metadata"));
  }
  for (absl::string_view entry :
       absl::StrSplit(meta(kMoreStreams), ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(entry, ':');
    SnapshotFile::Position position;
    if (parts.size() != 3 || parts[0].empty() ||
        !absl::SimpleAtoi(parts[1], &position.created) ||
        !absl::SimpleAtoi(parts[2], &position.seq)) {
      return absl::InvalidArgumentError(
          absl::StrCat("object \"", info.name, "\" has an invalid ",
                       kMoreStreams, " entry \"", entry, "\""));
    }
    position.stream = std::string(parts[0]);
    snapshot.more.push_back(std::move(position));
  }
  if (data.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError(
        absl::StrCat("object \"", info.name, "\" is not a banditd snapshot"));
  }
  data.remove_prefix(kMagic.size());
  while (!data.empty()) {
    if (data.size() < 8) {
      return absl::DataLossError(
          absl::StrCat("object \"", info.name, "\" ends inside a chunk size"));
    }
    const uint64_t length = ReadLength(data);
    data.remove_prefix(8);
    if (length > data.size()) {
      return absl::DataLossError(absl::StrCat(
          "object \"", info.name, "\": chunk ", snapshot.chunks.size(), " has ",
          length, " bytes, ", data.size(), " remain"));
    }
    snapshot.chunks.emplace_back(data.substr(0, length));
    data.remove_prefix(length);
  }
  return snapshot;
}

}  // namespace banditd::cluster::snapshot_object
