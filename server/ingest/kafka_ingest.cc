// KafkaIngest: one consumer thread per server that reads Feedback records,
// gathers them per partition (partition_batches.h), submits them through
// admission and the committer with their offset ranges, and handles what
// comes back (fenced ranges, refused batches retried record by record, dead
// letters, pauses). librdkafka's handles are configured in kafka_client.h,
// messages read and dead-lettered in kafka_record.h. Over 500 lines: these
// steps share one state machine per partition (PartitionState) that only
// the consumer thread touches; split, each file would need its invariants
// restated.

#include "server/ingest/kafka_ingest.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "server/ingest/kafka_client.h"
#include "server/ingest/kafka_record.h"
#include "server/ingest/partition_batches.h"
#include "server/log/log.h"

namespace banditd::ingest {
namespace {

using Key = std::pair<std::string, int32_t>;

// What the committer said about one submitted batch.
struct Completion {
  Key key;
  uint64_t generation = 0;
  int64_t from = 0;
  int64_t next = 0;
  int64_t records = 0;
  absl::Status status;
};

// The committer's callbacks run on its threads; they only queue here.
struct CompletionQueue {
  absl::Mutex mu;
  std::vector<Completion> done ABSL_GUARDED_BY(mu);
};

// Batches of one partition in the committer at once: it logs them in
// order, so they apply in order; when one fails, the later ones are fenced.
constexpr int kMaxInFlight = 16;

// Records read per turn of the consumer loop, between which the loop
// submits ready batches and handles completions.
constexpr int kPollRecords = 500;

bool Retryable(absl::StatusCode code) {
  return code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

class KafkaIngest::Consumer final : public RdKafka::RebalanceCb,
                                    public RdKafka::DeliveryReportCb {
 public:
  Consumer(Options options, const core::Engine* engine,
           store::Committer* committer, const service::DecisionCache* decisions)
      : options_(std::move(options)),
        engine_(engine),
        committer_(committer),
        decisions_(decisions),
        batch_cap_(std::max(1, std::min(options_.batch_events,
                                        engine->options().max_batch_events))),
        completions_(std::make_shared<CompletionQueue>()),
        decoder_(options_.format, decisions) {}

  ~Consumer() override = default;

  absl::Status Open();
  // The consumer thread.
  void Run(const std::atomic<bool>& stop);
  Stats stats() const;

  // RdKafka::RebalanceCb, on the consumer thread (inside consume()).
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;
  // RdKafka::DeliveryReportCb: dead-letter deliveries, on the consumer
  // thread (inside poll() or flush()).
  void dr_cb(RdKafka::Message& message) override;

 private:
  // Reads up to kPollRecords records (waiting at most `timeout_ms` for the
  // first) and gathers them. librdkafka's C API: the C++ wrapper allocates
  // a message object per record and copies its headers.
  void PollRecords(int timeout_ms);
  void OnRecord(const rd_kafka_message_t& message);
  // Whether a record admission refused with NOT_FOUND (`error`) is held:
  // its partition seeks back to it and pauses briefly, so that it is read
  // and admitted again once this replica may have applied its room.
  bool HoldMissing(const rd_kafka_message_t& message, PartitionState& part,
                   const absl::Status& error);
  // The partition a record belongs to, or null when not (or no longer) ours.
  PartitionState* PartitionOf(const rd_kafka_message_t& message);
  // Sends a refused record of a partition at `generation` to the
  // dead-letter topic; a failure is noted in failed_dead_letters_.
  void DeadLetter(const rd_kafka_message_t& message, const absl::Status& error,
                  uint64_t generation);
  void SubmitReady(const Key& key, PartitionState& part);
  void SubmitFront(const Key& key, PartitionState& part);
  void HandleCompletions();
  // Drops what was gathered and seeks back to the logged position.
  void Rewind(const Key& key, PartitionState& part, int64_t fallback,
              absl::Duration backoff);
  void Pause(const Key& key, PartitionState& part, bool pause);
  void RefreshStats();

  const Options options_;
  const core::Engine* const engine_;
  store::Committer* const committer_;
  const service::DecisionCache* const decisions_;
  const int batch_cap_;
  const std::shared_ptr<CompletionQueue> completions_;
  RecordDecoder decoder_;
  // Before the handles that call it: destroyed after them.
  KafkaEvents events_;

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::Producer> producer_;
  // Consumer thread only.
  std::map<Key, PartitionState> partitions_;
  // The last record's partition (records come in runs from one partition):
  // its topic handle, number and state. Reset when partitions_ changes.
  const rd_kafka_topic_t* last_topic_ = nullptr;
  int32_t last_partition_ = -1;
  PartitionState* last_part_ = nullptr;
  uint64_t next_generation_ = 1;
  int in_flight_ = 0;
  absl::Time last_refresh_ = absl::InfinitePast();
  // Errors (their messages) already waited for (missing_room_wait) and
  // when: dead-lettered at once until a minute after.
  absl::flat_hash_map<std::string, absl::Time> waited_missing_;
  // PartitionState generations with a dead letter the topic did not take: their
  // ranges are read again instead of logged (dr_cb, DeadLetter).
  absl::flat_hash_set<uint64_t> failed_dead_letters_;

  mutable absl::Mutex stats_mu_;
  Stats stats_ ABSL_GUARDED_BY(stats_mu_);
};

absl::Status KafkaIngest::Consumer::Open() {
  absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> consumer =
      CreateConsumer(options_, this, &events_);
  if (!consumer.ok()) return consumer.status();
  consumer_ = *std::move(consumer);
  if (!options_.dead_letter_topic.empty()) {
    absl::StatusOr<std::unique_ptr<RdKafka::Producer>> producer =
        CreateDeadLetterProducer(options_, this, &events_);
    if (!producer.ok()) return producer.status();
    producer_ = *std::move(producer);
  }
  if (RdKafka::ErrorCode err = consumer_->subscribe(options_.topics);
      err != RdKafka::ERR_NO_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot subscribe to ", absl::StrJoin(options_.topics, ","), ": ",
        RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

void KafkaIngest::Consumer::PollRecords(int timeout_ms) {
  rd_kafka_t* const rk = consumer_->c_ptr();
  for (int i = 0; i < kPollRecords; ++i) {
    // rd_kafka_consumer_poll also serves rebalances (rebalance_cb), between
    // two records, as KafkaConsumer::consume does.
    rd_kafka_message_t* message =
        rd_kafka_consumer_poll(rk, i == 0 ? timeout_ms : 0);
    if (message == nullptr) return;
    switch (message->err) {
      case RD_KAFKA_RESP_ERR_NO_ERROR:
        OnRecord(*message);
        break;
      case RD_KAFKA_RESP_ERR__TIMED_OUT:
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        break;
      default:
        KafkaWarn(absl::StrCat("consumer: ", rd_kafka_message_errstr(message)));
        break;
    }
    rd_kafka_message_destroy(message);
  }
}

void KafkaIngest::Consumer::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_acquire)) {
    HandleCompletions();
    PollRecords(10);
    const absl::Time now = absl::Now();
    for (auto& [key, part] : partitions_) {
      if (part.paused && part.resume_at <= now && part.gathered.size() <= 1) {
        Pause(key, part, false);
      }
      SubmitReady(key, part);
    }
    if (producer_ != nullptr) producer_->poll(0);
    if (now - last_refresh_ >= absl::Seconds(1)) {
      last_refresh_ = now;
      RefreshStats();
    }
  }
  // Let the batches in the committer finish, so that the positions are
  // logged before the group hands the partitions to another consumer.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (in_flight_ > 0 && absl::Now() < deadline) {
    HandleCompletions();
    absl::SleepFor(absl::Milliseconds(5));
  }
  RefreshStats();
  consumer_->close();
  if (producer_ != nullptr) producer_->flush(2000);
}

void KafkaIngest::Consumer::rebalance_cb(
    RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
    std::vector<RdKafka::TopicPartition*>& partitions) {
  const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    last_topic_ = nullptr;
    std::vector<std::string> names;
    for (RdKafka::TopicPartition* tp : partitions) {
      const Key key(tp->topic(), tp->partition());
      PartitionState& part = partitions_[key];
      part = PartitionState();
      part.generation = next_generation_++;
      part.first_generation = part.generation;
      // Resume where the log says; Kafka's committed offsets are ignored.
      if (std::optional<int64_t> position =
              engine_->source_offsets().Get(key.first, key.second)) {
        tp->set_offset(*position);
        part.next_from = *position;
      } else {
        tp->set_offset(options_.start_at_end
                           ? RdKafka::Topic::OFFSET_END
                           : RdKafka::Topic::OFFSET_BEGINNING);
      }
      names.push_back(
          absl::StrCat(key.first, "/", key.second, "@", part.next_from));
    }
    SPDLOG_INFO("kafka: assigned {}", absl::StrJoin(names, " "));
    if (cooperative) {
      delete consumer->incremental_assign(partitions);
    } else {
      consumer->assign(partitions);
    }
    // A partition paused by this consumer before a rebalance starts afresh.
    consumer->resume(partitions);
  } else {
    // Revoked: what is gathered is dropped; a batch still in the committer
    // lands or is fenced, and the next owner starts from the log.
    last_topic_ = nullptr;
    for (RdKafka::TopicPartition* tp : partitions) {
      partitions_.erase(Key(tp->topic(), tp->partition()));
    }
    SPDLOG_INFO("kafka: {} partitions revoked", partitions.size());
    if (cooperative) {
      delete consumer->incremental_unassign(partitions);
    } else {
      consumer->unassign();
    }
  }
}

PartitionState* KafkaIngest::Consumer::PartitionOf(
    const rd_kafka_message_t& message) {
  if (message.rkt == last_topic_ && message.partition == last_partition_) {
    return last_part_;
  }
  auto it = partitions_.find(
      Key(rd_kafka_topic_name(message.rkt), message.partition));
  if (it == partitions_.end()) return nullptr;
  last_topic_ = message.rkt;
  last_partition_ = message.partition;
  last_part_ = &it->second;
  return last_part_;
}

void KafkaIngest::Consumer::OnRecord(const rd_kafka_message_t& message) {
  PartitionState* const found = PartitionOf(message);
  if (found == nullptr) return;  // Not (or no longer) ours.
  PartitionState& part = *found;
  const int64_t offset = message.offset;
  // Before the range already gathered: fetched before a seek back.
  if (part.next_from >= 0 && offset < part.next_from) return;
  if (part.next_from < 0) part.next_from = offset;

  const RecordHeaders headers = HeadersOf(message);
  absl::StatusOr<core::FeedbackBatch> batch = decoder_.Decode(
      absl::string_view(static_cast<const char*>(message.payload), message.len),
      headers);
  absl::Status status = batch.status();
  // Admission, as for the RPC: the limits and the state's rules. The batch
  // is moved into the Mutation Validate takes, and its events back out.
  std::vector<core::FeedbackEvent> events;
  if (status.ok()) {
    core::Mutation mutation = *std::move(batch);
    status = engine_->Validate(mutation);
    events = std::move(std::get<core::FeedbackBatch>(mutation).events);
    if (status.code() == absl::StatusCode::kNotFound &&
        HoldMissing(message, part, status)) {
      return;
    }
  }
  if (!status.ok()) {
    {
      absl::MutexLock lock(&stats_mu_);
      ++stats_.records_rejected;
    }
    DeadLetter(message, status, part.generation);
    GatherRecord(batch_cap_, offset, {}, /*refused=*/true,
                 /*dead_letter=*/producer_ != nullptr, &part);
    return;
  }
  GatherRecord(batch_cap_, offset, std::move(events), /*refused=*/false,
               /*dead_letter=*/false, &part);
  // A paused partition resumes when one batch is left; each pause costs a
  // fetch from the broker on resume.
  if (!part.paused && part.gathered_events >= options_.max_gathered_events) {
    Pause(Key(rd_kafka_topic_name(message.rkt), message.partition), part, true);
  }
}

bool KafkaIngest::Consumer::HoldMissing(const rd_kafka_message_t& message,
                                        PartitionState& part,
                                        const absl::Status& error) {
  if (options_.missing_room_wait <= absl::ZeroDuration()) return false;
  const absl::Time now = absl::Now();
  const std::string what(error.message());
  if (auto it = waited_missing_.find(what); it != waited_missing_.end()) {
    if (now - it->second < absl::Minutes(1)) return false;
    waited_missing_.erase(it);
  }
  if (part.missing_offset != message.offset) {
    part.missing_offset = message.offset;
    part.missing_since = now;
  }
  if (now - part.missing_since >= options_.missing_room_wait) {
    // Waited: dead-letter it, and the same error without waiting again.
    if (waited_missing_.size() >= 10'000) waited_missing_.clear();
    waited_missing_[what] = now;
    part.missing_offset = -1;
    return false;
  }
  const Key key(rd_kafka_topic_name(message.rkt), message.partition);
  // What was gathered before it goes on; reading resumes at it.
  if (!part.gathered.empty()) part.gathered.back().sealed = true;
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(key.first, key.second, message.offset));
  if (RdKafka::ErrorCode err = consumer_->seek(*tp, 1000);
      err != RdKafka::ERR_NO_ERROR) {
    KafkaWarn(absl::StrCat("seek ", key.first, "/", key.second, " to ",
                           message.offset, ": ", RdKafka::err2str(err)));
    return false;
  }
  part.resume_at =
      now + std::min(absl::Milliseconds(50), options_.missing_room_wait / 4);
  if (!part.paused) Pause(key, part, true);
  absl::MutexLock lock(&stats_mu_);
  ++stats_.missing_room_holds;
  return true;
}

void KafkaIngest::Consumer::DeadLetter(const rd_kafka_message_t& message,
                                       const absl::Status& error,
                                       uint64_t generation) {
  const std::string where =
      absl::StrCat(rd_kafka_topic_name(message.rkt), "/", message.partition,
                   "@", message.offset);
  if (producer_ == nullptr) {
    KafkaWarn(absl::StrCat("record ", where, " refused: ", error.ToString()));
    return;
  }
  const rd_kafka_resp_err_t err =
      ProduceDeadLetter(producer_->c_ptr(), options_.dead_letter_topic, message,
                        error, generation);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failed_dead_letters_.insert(generation);
    KafkaWarn(
        absl::StrCat("record ", where, " refused (", error.ToString(),
                     ") and not dead-lettered (read again after a back-off): ",
                     rd_kafka_err2str(err)));
  }
}

void KafkaIngest::Consumer::dr_cb(RdKafka::Message& message) {
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    if (failed_dead_letters_.size() >= 10'000) failed_dead_letters_.clear();
    failed_dead_letters_.insert(
        reinterpret_cast<uintptr_t>(message.msg_opaque()));
    KafkaWarn(absl::StrCat("dead-letter delivery to ",
                           options_.dead_letter_topic,
                           " failed (its records are read again after a "
                           "back-off): ",
                           message.errstr()));
    return;
  }
  absl::MutexLock lock(&stats_mu_);
  ++stats_.records_dead_lettered;
}

void KafkaIngest::Consumer::SubmitReady(const Key& key, PartitionState& part) {
  // Records retried one by one go one at a time: each is admitted against
  // the state its predecessors left (limits such as segments per room).
  while (
      !part.gathered.empty() &&
      part.in_flight <
          (part.gathered.front().from < part.single_until ? 1 : kMaxInFlight) &&
      part.resume_at <= absl::Now() &&  // Else backing off.
      (part.gathered.front().sealed ||
       absl::Now() - part.gathered.front().since >= options_.linger)) {
    SubmitFront(key, part);
  }
}

void KafkaIngest::Consumer::SubmitFront(const Key& key, PartitionState& part) {
  GatheredBatch& g = part.gathered.front();
  // A range is logged only once its dead letters are stored (acks=all), so
  // no refused record is lost; one the topic did not take is read again
  // after a back-off. A crash between the two sends it twice.
  if (g.dead_letters && producer_ != nullptr) {
    const bool flushed = producer_->flush(5000) == RdKafka::ERR_NO_ERROR;
    if (!flushed || failed_dead_letters_.erase(part.generation) > 0) {
      Rewind(key, part, g.from, options_.retry_backoff);
      return;
    }
  }
  core::FeedbackBatch batch = std::move(g.batch);
  batch.source = core::SourceRange{key.first, key.second, g.from, g.next};
  Completion c;
  c.key = key;
  c.generation = part.generation;
  c.from = g.from;
  c.next = g.next;
  c.records = g.records - g.refused;
  part.gathered_events -= g.weight;
  part.gathered.pop_front();
  ++part.in_flight;
  ++in_flight_;
  committer_->Submit(std::move(batch),
                     [queue = completions_, c = std::move(c)](
                         absl::StatusOr<core::ApplyResult> result) mutable {
                       c.status = result.status();
                       absl::MutexLock lock(&queue->mu);
                       queue->done.push_back(std::move(c));
                     });
}

void KafkaIngest::Consumer::HandleCompletions() {
  std::vector<Completion> done;
  {
    absl::MutexLock lock(&completions_->mu);
    done.swap(completions_->done);
  }
  for (Completion& c : done) {
    --in_flight_;
    const absl::StatusCode code = c.status.code();
    const std::optional<int64_t> position =
        engine_->source_offsets().Get(c.key.first, c.key.second);
    // The range was consumed whatever became of its events: the position
    // moved past it.
    const bool consumed = position.has_value() && *position >= c.next;
    {
      absl::MutexLock lock(&stats_mu_);
      if (c.status.ok()) {
        stats_.records_applied += c.records;
      } else if (code == absl::StatusCode::kAborted) {
        ++stats_.batches_fenced;
      } else if (consumed) {
        stats_.records_rejected += c.records;
      } else {
        ++stats_.batches_retried;
      }
    }
    if (!c.status.ok() && code != absl::StatusCode::kAborted && consumed) {
      KafkaWarn(absl::StrCat("records ", c.key.first, "/", c.key.second, "@[",
                             c.from, ",", c.next,
                             ") rejected when applied: ", c.status.ToString()));
    }
    auto it = partitions_.find(c.key);
    if (it == partitions_.end()) continue;  // Revoked since.
    PartitionState& part = it->second;
    if (c.generation < part.first_generation) continue;  // Before a revoke.
    --part.in_flight;
    // Rewound since: the later batches of a failed one are fenced.
    if (part.generation != c.generation) continue;
    if (c.status.ok() || consumed) continue;
    if (code == absl::StatusCode::kAborted) {
      Rewind(c.key, part, c.from, absl::ZeroDuration());
      continue;
    }
    if (!Retryable(code)) {
      KafkaWarn(absl::StrCat("batch ", c.key.first, "/", c.key.second, "@[",
                             c.from, ",", c.next, ") refused (",
                             c.status.ToString(),
                             "); retrying its records one by one"));
    }
    // Refused before it was logged: again from the logged position, one
    // record per batch up to where this one ended, so that a record the
    // committer refuses is refused alone.
    if (c.records > 1) part.single_until = c.next;
    Rewind(c.key, part, c.from,
           Retryable(code) ? options_.retry_backoff : absl::ZeroDuration());
  }
}

void KafkaIngest::Consumer::Rewind(const Key& key, PartitionState& part,
                                   int64_t fallback, absl::Duration backoff) {
  const int64_t position =
      engine_->source_offsets().Get(key.first, key.second).value_or(fallback);
  part.gathered.clear();
  part.gathered_events = 0;
  part.generation = next_generation_++;
  part.next_from = position;
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(key.first, key.second, position));
  if (RdKafka::ErrorCode err = consumer_->seek(*tp, 1000);
      err != RdKafka::ERR_NO_ERROR) {
    KafkaWarn(absl::StrCat("seek ", key.first, "/", key.second, " to ",
                           position, ": ", RdKafka::err2str(err)));
  }
  if (backoff > absl::ZeroDuration()) {
    part.resume_at = absl::Now() + backoff;
    if (!part.paused) Pause(key, part, true);
  }
}

void KafkaIngest::Consumer::Pause(const Key& key, PartitionState& part,
                                  bool pause) {
  std::vector<RdKafka::TopicPartition*> tps = {
      RdKafka::TopicPartition::create(key.first, key.second)};
  const RdKafka::ErrorCode err =
      pause ? consumer_->pause(tps) : consumer_->resume(tps);
  RdKafka::TopicPartition::destroy(tps);
  if (err != RdKafka::ERR_NO_ERROR) return;
  part.paused = pause;
  if (pause) {
    absl::MutexLock lock(&stats_mu_);
    ++stats_.partition_pauses;
  }
}

void KafkaIngest::Consumer::RefreshStats() {
  std::vector<PartitionStats> out;
  std::vector<RdKafka::TopicPartition*> commit;
  for (auto& [key, part] : partitions_) {
    PartitionStats& s = out.emplace_back();
    s.topic = key.first;
    s.partition = key.second;
    s.position =
        engine_->source_offsets().Get(key.first, key.second).value_or(-1);
    int64_t low = -1, high = -1;
    if (consumer_->get_watermark_offsets(key.first, key.second, &low, &high) ==
            RdKafka::ERR_NO_ERROR &&
        high >= 0) {
      part.high_watermark = high;
    }
    s.high_watermark = part.high_watermark;
    s.paused = part.paused;
    if (s.position >= 0) {
      commit.push_back(
          RdKafka::TopicPartition::create(key.first, key.second, s.position));
    }
  }
  // Informational: lets Kafka's tools show the group's progress.
  if (!commit.empty()) consumer_->commitAsync(commit);
  RdKafka::TopicPartition::destroy(commit);
  absl::MutexLock lock(&stats_mu_);
  stats_.partitions = std::move(out);
}

KafkaIngest::Stats KafkaIngest::Consumer::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

absl::StatusOr<std::unique_ptr<KafkaIngest>> KafkaIngest::Start(
    Options options, const core::Engine* engine, store::Committer* committer,
    const service::DecisionCache* decisions) {
  if (options.brokers.empty()) {
    return absl::InvalidArgumentError("kafka: no brokers");
  }
  if (options.topics.empty()) {
    return absl::InvalidArgumentError("kafka: no topics to consume");
  }
  std::unique_ptr<KafkaIngest> ingest(new KafkaIngest());
  ingest->consumer_ = std::make_unique<Consumer>(std::move(options), engine,
                                                 committer, decisions);
  if (absl::Status s = ingest->consumer_->Open(); !s.ok()) return s;
  ingest->thread_ = std::thread(
      [c = ingest->consumer_.get(), stop = &ingest->stop_] { c->Run(*stop); });
  return ingest;
}

KafkaIngest::~KafkaIngest() { Stop(); }

void KafkaIngest::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

KafkaIngest::Stats KafkaIngest::stats() const { return consumer_->stats(); }

}  // namespace banditd::ingest
