#include "server/cluster/object_store.h"

#include <nats/nats.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_status.h"

namespace banditd::cluster {

namespace ol = object_layout;

namespace {

// A header of a Direct Get reply, or "" when missing.
std::string Header(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) {
    return "";
  }
  return value;
}

// On each chunk: the meta subject of the object it belongs to, so that the
// collector knows when the object was replaced. Readers ignore it.
constexpr char kMetaHeader[] = "Banditd-Meta";

// Destroys a message when it goes out of scope.
struct Msg {
  natsMsg* msg = nullptr;
  ~Msg() {
    if (msg != nullptr) natsMsg_Destroy(msg);
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> ObjectStore::Create(
    natsConnection* nc, Options options) {
  if (!ol::ValidBucket(options.bucket)) {
    return absl::InvalidArgumentError(
        absl::StrCat("object store bucket \"", options.bucket,
                     "\": use only letters, digits, '_' and '-'"));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(options.request_timeout));
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, nc, &jo); s != NATS_OK) {
    return NatsError("cannot open a JetStream context for the object store", s);
  }
  return std::unique_ptr<ObjectStore>(new ObjectStore(js, std::move(options)));
}

ObjectStore::~ObjectStore() { jsCtx_Destroy(js_); }

absl::Status ObjectStore::EnsureBucket() {
  const std::string stream = ol::StreamName(options_.bucket);
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND) {
    const std::string chunks = ol::ChunkSubjects(options_.bucket);
    const std::string meta = ol::MetaSubjects(options_.bucket);
    const char* subjects[] = {chunks.c_str(), meta.c_str()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 2;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = options_.replicas;
    cfg.Discard = js_DiscardNew;
    cfg.MaxBytes = -1;
    cfg.AllowRollup = true;
    cfg.AllowDirect = true;
    code = static_cast<jsErrCode>(0);
    s = js_AddStream(&si, js_, &cfg, nullptr, &code);
    // Another replica created it meanwhile.
    if (s != NATS_OK && code == JSStreamNameExistErr) s = NATS_OK;
  }
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) {
    return NatsError(
        absl::StrCat("cannot read or create object store bucket ", stream)
            .c_str(),
        s, code);
  }
  return absl::OkStatus();
}

absl::StatusOr<ol::ObjectInfo> ObjectStore::GetInfo(const std::string& name) {
  const std::string stream = ol::StreamName(options_.bucket);
  const std::string subject = ol::MetaSubject(options_.bucket, name);
  jsDirectGetMsgOptions dg;
  jsDirectGetMsgOptions_Init(&dg);
  dg.LastBySubject = subject.c_str();
  Msg meta;
  natsStatus s = js_DirectGetMsg(&meta.msg, js_, stream.c_str(), nullptr, &dg);
  if (s == NATS_NOT_FOUND || s == NATS_NO_RESPONDERS) {
    nats_GetLastError(nullptr);
    // No responders: the bucket's stream does not exist.
    return absl::NotFoundError(
        s == NATS_NOT_FOUND
            ? absl::StrCat("object \"", name, "\" not found in bucket ",
                           options_.bucket)
            : absl::StrCat("object store bucket ", options_.bucket, " (stream ",
                           stream, ") does not exist"));
  }
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("cannot read the meta of object \"", name,
                                  "\" in bucket ", options_.bucket)
                         .c_str(),
                     s);
  }
  absl::StatusOr<ol::ObjectInfo> info = ol::ParseMetaJson(
      absl::string_view(natsMsg_GetData(meta.msg),
                        static_cast<size_t>(natsMsg_GetDataLength(meta.msg))));
  if (!info.ok()) return info.status();
  if (info->deleted) {
    return absl::NotFoundError(absl::StrCat("object \"", name, "\" in bucket ",
                                            options_.bucket, " was deleted"));
  }
  // Like nats.go: the server's store time, not the writer's clock.
  std::string error;
  absl::ParseTime(absl::RFC3339_full, Header(meta.msg, "Nats-Time-Stamp"),
                  &info->mtime, &error);
  return info;
}

absl::Status ObjectStore::Publish(const std::string& subject,
                                  absl::string_view data,
                                  const std::string& chunk_of) {
  Msg msg;
  natsStatus s = natsMsg_Create(&msg.msg, subject.c_str(), nullptr, data.data(),
                                static_cast<int>(data.size()));
  // A meta rolls up its subject's previous meta; a chunk names its meta.
  if (s == NATS_OK) {
    s = chunk_of.empty()
            ? natsMsgHeader_Set(msg.msg, "Nats-Rollup", "sub")
            : natsMsgHeader_Set(msg.msg, kMetaHeader, chunk_of.c_str());
  }
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = js_PublishMsg(&ack, js_, msg.msg, nullptr, &code);
  if (ack != nullptr) jsPubAck_Destroy(ack);
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("cannot publish to ", subject).c_str(), s,
                     code);
  }
  return absl::OkStatus();
}

absl::Status ObjectStore::PurgeSubject(const std::string& subject) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Stream.Purge.Subject = subject.c_str();
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_PurgeStream(js_, ol::StreamName(options_.bucket).c_str(), &jo, &code);
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("cannot purge ", subject).c_str(), s, code);
  }
  return absl::OkStatus();
}

absl::StatusOr<ol::ObjectInfo> ObjectStore::Put(ol::ObjectInfo info,
                                                absl::string_view data) {
  info.bucket = options_.bucket;
  info.nuid = ol::NewNuid();
  info.max_chunk_size = static_cast<uint32_t>(options_.chunk_bytes);
  info.deleted = false;
  const std::string meta_subject = ol::MetaSubject(options_.bucket, info.name);
  const std::string chunk_subject =
      ol::ChunkSubject(options_.bucket, info.nuid);
  const std::vector<absl::string_view> chunks =
      ol::SplitChunks(data, options_.chunk_bytes);
  absl::Time last_chunk = absl::Now();
  for (absl::string_view chunk : chunks) {
    if (absl::Status s = Publish(chunk_subject, chunk, meta_subject); !s.ok()) {
      PurgeSubject(chunk_subject).IgnoreError();
      return s;
    }
    last_chunk = absl::Now();
  }
  // A collector deletes unreferenced chunks older than the grace: a meta
  // stored that late could reference deleted chunks.
  if (absl::Now() - last_chunk > options_.gc_grace / 4) {
    PurgeSubject(chunk_subject).IgnoreError();
    return absl::UnavailableError(absl::StrCat(
        "object \"", info.name,
        "\" not stored: its meta would follow its "
        "last chunk by more than a quarter of the collector's grace (",
        absl::FormatDuration(options_.gc_grace), ")"));
  }
  info.size = data.size();
  info.chunks = static_cast<uint32_t>(chunks.size());
  info.digest = ol::Digest(data);
  info.mtime = absl::Now();
  if (absl::Status s = Publish(meta_subject, ol::MetaJson(info), ""); !s.ok()) {
    PurgeSubject(chunk_subject).IgnoreError();
    return s;
  }
  // Cheap insurance against a collector with a skewed clock.
  if (!chunks.empty()) {
    absl::StatusOr<std::map<std::string, uint64_t>> counts =
        SubjectCounts(chunk_subject);
    if (counts.ok()) {
      auto it = counts->find(chunk_subject);
      const uint64_t stored = it == counts->end() ? 0 : it->second;
      if (stored != chunks.size()) {
        return absl::DataLossError(absl::StrCat(
            "object \"", info.name, "\" in bucket ", options_.bucket, " has ",
            stored, " of its ", chunks.size(),
            " chunks right after its meta was stored (deleted by a collector "
            "whose clock is ahead?)"));
      }
    }
  }
  return info;
}

absl::StatusOr<std::map<std::string, uint64_t>> ObjectStore::SubjectCounts(
    const std::string& filter) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetStreamInfo(
      &si, js_, ol::StreamName(options_.bucket).c_str(), &jo, &code);
  if (s != NATS_OK) {
    return NatsError(
        absl::StrCat("cannot list the subjects of bucket ", options_.bucket)
            .c_str(),
        s, code);
  }
  std::map<std::string, uint64_t> counts;
  if (si->State.Subjects != nullptr) {
    for (int i = 0; i < si->State.Subjects->Count; ++i) {
      const jsStreamStateSubject& subject = si->State.Subjects->List[i];
      counts[subject.Subject] = subject.Msgs;
    }
  }
  jsStreamInfo_Destroy(si);
  return counts;
}

absl::StatusOr<ObjectStore::Last> ObjectStore::LastMsg(
    const std::string& subject, bool with_data) {
  jsDirectGetMsgOptions dg;
  jsDirectGetMsgOptions_Init(&dg);
  dg.LastBySubject = subject.c_str();
  Msg msg;
  const natsStatus s = js_DirectGetMsg(
      &msg.msg, js_, ol::StreamName(options_.bucket).c_str(), nullptr, &dg);
  if (s == NATS_NOT_FOUND) {
    nats_GetLastError(nullptr);
    return absl::NotFoundError(absl::StrCat("no message on ", subject));
  }
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("cannot read ", subject).c_str(), s);
  }
  Last last;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, Header(msg.msg, "Nats-Time-Stamp"),
                       &last.stored, &error)) {
    return absl::DataLossError(
        absl::StrCat("the last message on ", subject, " has no store time"));
  }
  last.meta_subject = Header(msg.msg, kMetaHeader);
  if (with_data) {
    last.data.assign(natsMsg_GetData(msg.msg),
                     static_cast<size_t>(natsMsg_GetDataLength(msg.msg)));
  }
  return last;
}

absl::StatusOr<ObjectStore::Collected> ObjectStore::CollectGarbage() {
  absl::StatusOr<std::map<std::string, uint64_t>> subjects =
      SubjectCounts(absl::StrCat("$O.", options_.bucket, ".>"));
  if (!subjects.ok()) return subjects.status();
  const std::string meta_prefix = absl::StrCat("$O.", options_.bucket, ".M.");
  const std::string chunk_prefix = absl::StrCat("$O.", options_.bucket, ".C.");
  // Every meta's nuid, and each meta subject's store time.
  absl::flat_hash_set<std::string> referenced;
  absl::flat_hash_map<std::string, absl::Time> meta_time;
  absl::Time newest_meta = absl::InfinitePast();
  for (const auto& [subject, count] : *subjects) {
    if (!absl::StartsWith(subject, meta_prefix)) continue;
    absl::StatusOr<Last> meta = LastMsg(subject, /*with_data=*/true);
    if (absl::IsNotFound(meta.status())) continue;
    if (!meta.ok()) return meta.status();
    absl::StatusOr<ol::ObjectInfo> info = ol::ParseMetaJson(meta->data);
    // An unreadable meta may reference anything: collect nothing.
    if (!info.ok()) {
      return absl::DataLossError(
          absl::StrCat("meta ", subject, ": ", info.status().message()));
    }
    if (!info->deleted) referenced.insert(info->nuid);
    meta_time[subject] = meta->stored;
    newest_meta = std::max(newest_meta, meta->stored);
  }
  const absl::Time now = absl::Now();
  Collected collected;
  for (const auto& [subject, count] : *subjects) {
    if (!absl::StartsWith(subject, chunk_prefix) ||
        referenced.contains(subject.substr(chunk_prefix.size()))) {
      continue;
    }
    absl::StatusOr<Last> chunk = LastMsg(subject, /*with_data=*/false);
    if (absl::IsNotFound(chunk.status())) continue;
    if (!chunk.ok()) return chunk.status();
    auto owner = meta_time.find(chunk->meta_subject);
    const absl::Time replaced =
        owner != meta_time.end() ? owner->second : newest_meta;
    if (now - chunk->stored < options_.gc_grace ||
        now - replaced < options_.gc_grace) {
      ++collected.kept;
      continue;
    }
    if (absl::Status s = PurgeSubject(subject); !s.ok()) return s;
    ++collected.objects;
    collected.chunks += count;
  }
  return collected;
}

absl::StatusOr<ObjectStore::Object> ObjectStore::Get(const std::string& name) {
  absl::StatusOr<ol::ObjectInfo> info = GetInfo(name);
  if (!info.ok()) return info.status();
  Object object;
  object.info = *std::move(info);
  const std::string stream = ol::StreamName(options_.bucket);
  const std::string subject =
      ol::ChunkSubject(options_.bucket, object.info.nuid);
  object.data.reserve(object.info.size);
  uint64_t seq = 0;
  for (uint32_t i = 0; i < object.info.chunks; ++i) {
    jsDirectGetMsgOptions dg;
    jsDirectGetMsgOptions_Init(&dg);
    dg.Sequence = seq + 1;
    dg.NextBySubject = subject.c_str();
    Msg chunk;
    natsStatus s =
        js_DirectGetMsg(&chunk.msg, js_, stream.c_str(), nullptr, &dg);
    if (s == NATS_NOT_FOUND) {
      nats_GetLastError(nullptr);
      return absl::DataLossError(
          absl::StrCat("object \"", name, "\" in bucket ", options_.bucket,
                       " has ", i, " of its ", object.info.chunks,
                       " chunks (replaced or purged while reading?)"));
    }
    if (s != NATS_OK) {
      return NatsError(
          absl::StrCat("cannot read chunk ", i, " of object \"", name, "\"")
              .c_str(),
          s);
    }
    if (!absl::SimpleAtoi(Header(chunk.msg, "Nats-Sequence"), &seq) ||
        seq < dg.Sequence) {
      return absl::DataLossError(absl::StrCat(
          "chunk ", i, " of object \"", name, "\" has no valid sequence"));
    }
    object.data.append(natsMsg_GetData(chunk.msg),
                       static_cast<size_t>(natsMsg_GetDataLength(chunk.msg)));
  }
  if (object.data.size() != object.info.size) {
    return absl::DataLossError(absl::StrCat(
        "object \"", name, "\" in bucket ", options_.bucket, " has ",
        object.data.size(), " bytes, its meta says ", object.info.size));
  }
  if (const std::string digest = ol::Digest(object.data);
      digest != object.info.digest) {
    return absl::DataLossError(absl::StrCat(
        "object \"", name, "\" in bucket ", options_.bucket, " has digest ",
        digest, ", its meta says ", object.info.digest));
  }
  return object;
}

}  // namespace banditd::cluster
