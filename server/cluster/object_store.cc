#include "server/cluster/object_store.h"

#include <nats/nats.h>

#include <algorithm>
#include <utility>

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
                                  absl::string_view data, bool rollup) {
  Msg msg;
  natsStatus s = natsMsg_Create(&msg.msg, subject.c_str(), nullptr, data.data(),
                                static_cast<int>(data.size()));
  if (s == NATS_OK && rollup) {
    s = natsMsgHeader_Set(msg.msg, "Nats-Rollup", "sub");
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
  // The previous object's chunks are purged once the new meta is stored.
  absl::StatusOr<ol::ObjectInfo> previous = GetInfo(info.name);
  if (!previous.ok() && !absl::IsNotFound(previous.status())) {
    return previous.status();
  }
  info.bucket = options_.bucket;
  info.nuid = ol::NewNuid();
  info.max_chunk_size = static_cast<uint32_t>(options_.chunk_bytes);
  info.deleted = false;
  const std::string chunk_subject =
      ol::ChunkSubject(options_.bucket, info.nuid);
  const std::vector<absl::string_view> chunks =
      ol::SplitChunks(data, options_.chunk_bytes);
  for (absl::string_view chunk : chunks) {
    if (absl::Status s = Publish(chunk_subject, chunk, false); !s.ok()) {
      PurgeSubject(chunk_subject).IgnoreError();
      return s;
    }
  }
  info.size = data.size();
  info.chunks = static_cast<uint32_t>(chunks.size());
  info.digest = ol::Digest(data);
  info.mtime = absl::Now();
  if (absl::Status s = Publish(ol::MetaSubject(options_.bucket, info.name),
                               ol::MetaJson(info), true);
      !s.ok()) {
    PurgeSubject(chunk_subject).IgnoreError();
    return s;
  }
  if (previous.ok() && !previous->nuid.empty() && previous->nuid != info.nuid) {
    // A failure leaves unreferenced chunks, not a broken object.
    PurgeSubject(ol::ChunkSubject(options_.bucket, previous->nuid))
        .IgnoreError();
  }
  return info;
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
