// The engine's state as snapshot rows: encoded into size-bounded chunks,
// decoded with a check of every field. Encoding and decoding are kept side
// by side so that a field cannot be written without being read back.

#include "server/store/snapshot_codec.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "banditd/internal/v1/log.pb.h"
#include "server/store/proto_convert.h"

namespace banditd::store {
namespace {

namespace pb = ::banditd::internal::v1;

// Slices a table so that one slice stays near the chunk size.
constexpr size_t kBytesPerSlot = 4 * sizeof(double);

// Collects messages into chunks of about `chunk_bytes`.
class ChunkWriter {
 public:
  explicit ChunkWriter(size_t chunk_bytes) : chunk_bytes_(chunk_bytes) {}

  pb::SnapshotChunk* chunk() { return &chunk_; }
  // Call after adding `bytes` to chunk(); closes the chunk when full.
  void Added(size_t bytes) {
    bytes_ += bytes;
    if (bytes_ >= chunk_bytes_) Flush();
  }
  size_t room_left() const {
    return bytes_ >= chunk_bytes_ ? 0 : chunk_bytes_ - bytes_;
  }
  std::vector<std::string> Finish() {
    Flush();
    return std::move(chunks_);
  }

 private:
  void Flush() {
    if (bytes_ == 0 && chunk_.ByteSizeLong() == 0) return;
    chunks_.push_back(chunk_.SerializeAsString());
    chunk_.Clear();
    bytes_ = 0;
  }

  const size_t chunk_bytes_;
  pb::SnapshotChunk chunk_;
  size_t bytes_ = 0;
  std::vector<std::string> chunks_;
};

void EncodeTable(const std::string& room_id, const std::string& segment,
                 const std::string* context_item,
                 const core::CounterTable& table, size_t chunk_bytes,
                 ChunkWriter* writer) {
  const size_t max_slots = std::max<size_t>(1, chunk_bytes / kBytesPerSlot);
  size_t offset = 0;
  do {
    const size_t fit = std::max<size_t>(1, writer->room_left() / kBytesPerSlot);
    const size_t n = std::min({table.entries() - offset, max_slots, fit});
    pb::TableSlice* slice = writer->chunk()->add_tables();
    slice->set_room_id(room_id);
    slice->set_segment(segment);
    if (context_item != nullptr) {
      slice->set_has_context_item(true);
      slice->set_context_item(*context_item);
    }
    slice->set_offset(static_cast<int64_t>(offset));
    if (table.sparse()) {
      // Entries in the order the table holds them, so that a restored
      // table is the same, and densifies at the same point.
      slice->set_sparse(true);
      slice->set_arm_count(static_cast<int64_t>(table.size()));
      slice->mutable_arms()->Add(table.entry_arms() + offset,
                                 table.entry_arms() + offset + n);
    }
    slice->mutable_views()->Add(table.views() + offset,
                                table.views() + offset + n);
    slice->mutable_clicks()->Add(table.clicks() + offset,
                                 table.clicks() + offset + n);
    slice->mutable_reward_sums()->Add(table.reward_sums() + offset,
                                      table.reward_sums() + offset + n);
    slice->set_enabled_views(table.enabled_views());
    slice->mutable_reward_sq_sums()->Add(table.reward_sq_sums() + offset,
                                         table.reward_sq_sums() + offset + n);
    offset += n;
    writer->Added(n * kBytesPerSlot + room_id.size() + segment.size() + 32);
  } while (offset < table.entries());
}

template <typename Map>
std::vector<const typename Map::value_type*> Sorted(const Map& map) {
  std::vector<const typename Map::value_type*> out;
  out.reserve(map.size());
  for (const auto& entry : map) out.push_back(&entry);
  std::sort(out.begin(), out.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return out;
}

// Accumulates the slices of one table while decoding.
struct TableBuilder {
  std::vector<double> views, clicks, reward_sums, reward_sq_sums;
  double enabled_views = 0;
  // Sparse tables: the arm of each entry, and the arms the table covers.
  bool sparse = false;
  std::vector<uint32_t> arms;
  int64_t arm_count = 0;
};

struct TableKey {
  std::string room_id, segment;
  bool has_context_item;
  std::string context_item;

  template <typename H>
  friend H AbslHashValue(H h, const TableKey& k) {
    return H::combine(std::move(h), k.room_id, k.segment, k.has_context_item,
                      k.context_item);
  }
  friend bool operator==(const TableKey&, const TableKey&) = default;
};

// A bound on the stream index a snapshot may name (--cluster_streams is far
// below it): a corrupt index must not allocate without limit.
constexpr uint32_t kMaxEventStreams = 1 << 16;

// The window of `stream` in `state`, added (with those before it) if new.
core::EventIdsCopy& WindowIn(EngineState& state, uint32_t stream) {
  if (state.event_windows.size() <= stream) {
    state.event_windows.resize(stream + 1);
  }
  return state.event_windows[stream];
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("snapshot is corrupt: ", what));
}

// Decodes snapshot chunks into an EngineState: each slice is checked as it
// is read, then the tables are assembled and every room checked whole.
class SnapshotDecoder {
 public:
  // Chunk `c` (for errors) of the snapshot, in order; its strings are moved.
  absl::Status AddChunk(size_t c, pb::SnapshotChunk& chunk) {
    for (pb::RoomSlice& slice : *chunk.mutable_rooms()) {
      if (absl::Status s = AddRoom(slice); !s.ok()) return s;
    }
    for (pb::TableSlice& slice : *chunk.mutable_tables()) {
      if (absl::Status s = AddTable(slice); !s.ok()) return s;
    }
    for (pb::LinUcbSlice& slice : *chunk.mutable_linucb()) {
      if (absl::Status s = AddLinUcb(slice); !s.ok()) return s;
    }
    if (absl::Status s = AddEventIds(c, chunk); !s.ok()) return s;
    for (const pb::SourceOffset& offset : chunk.source_offsets()) {
      state_.source_offsets.push_back(
          {offset.topic(), offset.partition(), offset.next_offset()});
    }
    return absl::OkStatus();
  }

  // The state, once every chunk is added.
  absl::StatusOr<EngineState> Finish() && {
    if (absl::Status s = AssembleTables(); !s.ok()) return s;
    if (absl::Status s = CheckRooms(); !s.ok()) return s;
    return std::move(state_);
  }

 private:
  // A slice of a room's header and arm ids.
  absl::Status AddRoom(pb::RoomSlice& slice) {
    auto [it, inserted] =
        room_index_.try_emplace(slice.room_id(), state_.rooms.size());
    if (inserted) {
      RoomState& room = state_.rooms.emplace_back();
      room.room_id = slice.room_id();
      absl::StatusOr<core::PolicyParams> policy =
          PolicyFromProto(slice.policy());
      if (!policy.ok()) return policy.status();
      room.policy = *policy;
      room.decay = DecayFromProto(slice.decay());
      room.linucb = LinUcbFromProto(slice.linucb());
      room.counter_scale =
          slice.has_counter_scale() ? slice.counter_scale() : 1.0;
      room.last_event_micros = slice.last_event_micros();
      table_counts_.push_back(slice.table_count());
    }
    RoomState& room = state_.rooms[it->second];
    if (slice.offset() != static_cast<int64_t>(room.arm_ids.size()) ||
        slice.enabled().size() != static_cast<size_t>(slice.arm_ids_size())) {
      return Corrupt(absl::StrCat("room ", room.room_id, " arms"));
    }
    // Straight into the room's arena: no string per arm survives the
    // load (they used to, as fragmentation of the heap after a restart).
    size_t chars = 0;
    for (const std::string& arm : slice.arm_ids()) chars += arm.size();
    room.arm_ids.Reserve(static_cast<size_t>(slice.arm_ids_size()), chars);
    for (const std::string& arm : slice.arm_ids()) {
      if (arm.empty() || arm.size() > core::ArmIds::kMaxLength ||
          room.arm_ids.contains(arm)) {
        return Corrupt(absl::StrCat("room ", room.room_id, " arm ids"));
      }
      room.arm_ids.Append(arm);
    }
    room.enabled.insert(room.enabled.end(), slice.enabled().begin(),
                        slice.enabled().end());
    return absl::OkStatus();
  }

  // A slice of one of a room's counter tables.
  absl::Status AddTable(pb::TableSlice& slice) {
    if (!room_index_.contains(slice.room_id())) {
      return Corrupt(absl::StrCat("table of unknown room ", slice.room_id()));
    }
    TableKey key{slice.room_id(), slice.segment(), slice.has_context_item(),
                 slice.context_item()};
    auto [it, inserted] = tables_.try_emplace(key);
    if (inserted) table_order_.push_back(key);
    TableBuilder& table = it->second;
    const int n = slice.views_size();
    if (slice.offset() != static_cast<int64_t>(table.views.size()) ||
        slice.clicks_size() != n || slice.reward_sums_size() != n) {
      return Corrupt(absl::StrCat("table slice of room ", slice.room_id(),
                                  " segment ", slice.segment()));
    }
    if (slice.offset() == 0) table.sparse = slice.sparse();
    if (slice.sparse() != table.sparse ||
        (slice.sparse() && slice.arms_size() != n)) {
      return Corrupt(absl::StrCat("sparse table slice of room ",
                                  slice.room_id(), " segment ",
                                  slice.segment()));
    }
    table.arm_count = slice.arm_count();
    table.arms.insert(table.arms.end(), slice.arms().begin(),
                      slice.arms().end());
    table.views.insert(table.views.end(), slice.views().begin(),
                       slice.views().end());
    table.clicks.insert(table.clicks.end(), slice.clicks().begin(),
                        slice.clicks().end());
    table.reward_sums.insert(table.reward_sums.end(),
                             slice.reward_sums().begin(),
                             slice.reward_sums().end());
    table.enabled_views = slice.enabled_views();
    if (slice.reward_sq_sums_size() == n) {
      table.reward_sq_sums.insert(table.reward_sq_sums.end(),
                                  slice.reward_sq_sums().begin(),
                                  slice.reward_sq_sums().end());
    } else if (slice.reward_sq_sums_size() == 0) {
      table.reward_sq_sums.resize(table.views.size());
    } else {
      return Corrupt(absl::StrCat("squared rewards in room ", slice.room_id()));
    }
    return absl::OkStatus();
  }

  // A slice of a room's LinUCB models.
  absl::Status AddLinUcb(pb::LinUcbSlice& slice) {
    auto it = room_index_.find(slice.room_id());
    if (it == room_index_.end()) {
      return Corrupt(absl::StrCat("LinUCB of unknown room ", slice.room_id()));
    }
    RoomState& room = state_.rooms[it->second];
    const int d = room.linucb.dimension;
    if (slice.offset() != static_cast<int64_t>(room.linucb_arms.size())) {
      return Corrupt(absl::StrCat("LinUCB slice of room ", room.room_id));
    }
    for (pb::LinUcbModel& model : *slice.mutable_arms()) {
      if (model.a_inverse_size() != d * d || model.b_size() != d) {
        return Corrupt(
            absl::StrCat("LinUCB model size in room ", room.room_id));
      }
      core::LinUcbArm& arm =
          room.linucb_arms.emplace_back(d, room.linucb.lambda);
      arm.Restore({model.a_inverse().begin(), model.a_inverse().end()},
                  {model.b().begin(), model.b().end()});
    }
    return absl::OkStatus();
  }

  // The chunk's event ids, into the window of their stream.
  absl::Status AddEventIds(size_t c, pb::SnapshotChunk& chunk) {
    // Global ids of an old snapshot keep matching in every room.
    if (chunk.event_ids_size() > 0) {
      core::EventIdsCopy& window = WindowIn(state_, 0);
      for (const std::string& id : chunk.event_ids()) {
        window.keys.push_back(core::EventKey("", id));
        window.micros.push_back(0);
      }
    }
    const bool timed = chunk.event_micros_size() == chunk.event_keys_size();
    const bool named = chunk.event_streams_size() == chunk.event_keys_size();
    if (!named && chunk.event_streams_size() > 0) {
      return Corrupt(absl::StrCat("chunk ", c, " event id streams"));
    }
    for (int i = 0; i < chunk.event_keys_size(); ++i) {
      const uint32_t stream = named ? chunk.event_streams(i) : 0;
      if (stream >= kMaxEventStreams) {
        return Corrupt(absl::StrCat("event id stream ", stream));
      }
      core::EventIdsCopy& window = WindowIn(state_, stream);
      window.keys.push_back(std::move(*chunk.mutable_event_keys(i)));
      window.micros.push_back(timed ? chunk.event_micros(i) : 0);
    }
    return absl::OkStatus();
  }

  // The gathered tables into their rooms' segments.
  absl::Status AssembleTables() {
    for (const TableKey& key : table_order_) {
      RoomState& room = state_.rooms[room_index_.at(key.room_id)];
      TableBuilder& table = tables_.at(key);
      core::Segment& segment = room.segments[key.segment];
      core::CounterTable& out = key.has_context_item
                                    ? segment.context[key.context_item]
                                    : segment.arms;
      if (table.sparse) {
        if (table.arm_count != static_cast<int64_t>(room.arm_ids.size()) ||
            (key.segment.empty() && !key.has_context_item) ||
            !out.AssignSparse(room.arm_ids.size(), std::move(table.arms),
                              std::move(table.views), std::move(table.clicks),
                              std::move(table.reward_sums), table.enabled_views,
                              std::move(table.reward_sq_sums))) {
          return Corrupt(absl::StrCat("sparse table in room ", room.room_id));
        }
        continue;
      }
      if (table.views.size() != room.arm_ids.size()) {
        return Corrupt(absl::StrCat("table size in room ", room.room_id));
      }
      out.Assign(std::move(table.views), std::move(table.clicks),
                 std::move(table.reward_sums), table.enabled_views,
                 std::move(table.reward_sq_sums));
      // Snapshots written before tables were sparse hold every table dense;
      // the whole room's stays dense.
      if (!key.segment.empty() || key.has_context_item) out.SparsifyIfFew();
    }
    return absl::OkStatus();
  }

  // Every room has its LinUCB models and the tables its header counts.
  absl::Status CheckRooms() const {
    std::vector<int64_t> tables_seen(state_.rooms.size());
    for (const TableKey& key : table_order_) {
      ++tables_seen[room_index_.at(key.room_id)];
    }
    for (size_t r = 0; r < state_.rooms.size(); ++r) {
      const RoomState& room = state_.rooms[r];
      if (!room.linucb_arms.empty() &&
          room.linucb_arms.size() != room.arm_ids.size()) {
        return Corrupt(absl::StrCat(
            "room ", room.room_id, " has ", room.linucb_arms.size(),
            " LinUCB models for ", room.arm_ids.size(), " arms"));
      }
      if (tables_seen[r] != table_counts_[r]) {
        return Corrupt(absl::StrCat("room ", room.room_id, " has ",
                                    tables_seen[r], " of ", table_counts_[r],
                                    " tables"));
      }
      for (const auto& [name, segment] : room.segments) {
        // A segment's arm table is always written, even when only context
        // tables are non-empty, so a missing one means a lost slice.
        if (segment.arms.size() != room.arm_ids.size()) {
          return Corrupt(absl::StrCat("segment ", name, " of room ",
                                      room.room_id, " lacks its arm table"));
        }
      }
    }
    return absl::OkStatus();
  }

  EngineState state_;
  absl::flat_hash_map<std::string, size_t> room_index_;
  absl::node_hash_map<TableKey, TableBuilder> tables_;
  std::vector<TableKey> table_order_;
  std::vector<int64_t> table_counts_;  // Per room, as the header says.
};

// One room's slices: its header and arm ids, its tables, its LinUCB models.
void EncodeRoom(const RoomState& room, size_t chunk_bytes,
                ChunkWriter* writer) {
  int64_t table_count = 0;
  for (const auto& [name, segment] : room.segments) {
    table_count += 1 + static_cast<int64_t>(segment.context.size());
  }
  // Header slices.
  size_t offset = 0;
  do {
    pb::RoomSlice* slice = writer->chunk()->add_rooms();
    slice->set_room_id(room.room_id);
    PolicyToProto(room.policy, slice->mutable_policy());
    slice->set_offset(static_cast<int64_t>(offset));
    slice->set_table_count(table_count);
    DecayToProto(room.decay, slice->mutable_decay());
    LinUcbToProto(room.linucb, slice->mutable_linucb());
    slice->set_counter_scale(room.counter_scale);
    slice->set_last_event_micros(room.last_event_micros);
    size_t bytes = room.room_id.size() + 64;
    const size_t begin = offset;
    while (offset < room.arm_ids.size() &&
           (offset == begin || bytes < chunk_bytes)) {
      const absl::string_view id = room.arm_ids[offset];
      slice->add_arm_ids(id.data(), id.size());
      bytes += room.arm_ids[offset].size() + 3;
      ++offset;
    }
    slice->set_enabled(std::string(room.enabled.begin() + begin,
                                   room.enabled.begin() + offset));
    writer->Added(bytes);
  } while (offset < room.arm_ids.size());
  // Tables.
  for (const auto* segment : Sorted(room.segments)) {
    EncodeTable(room.room_id, segment->first, nullptr, segment->second.arms,
                chunk_bytes, writer);
    for (const auto* context : Sorted(segment->second.context)) {
      EncodeTable(room.room_id, segment->first, &context->first,
                  context->second, chunk_bytes, writer);
    }
  }
  // LinUCB models, a few arms per slice.
  for (size_t i = 0; i < room.linucb_arms.size();) {
    pb::LinUcbSlice* slice = writer->chunk()->add_linucb();
    slice->set_room_id(room.room_id);
    slice->set_offset(static_cast<int64_t>(i));
    size_t bytes = room.room_id.size() + 16;
    do {
      const core::LinUcbArm& arm = room.linucb_arms[i++];
      pb::LinUcbModel* model = slice->add_arms();
      model->mutable_a_inverse()->Add(arm.a_inverse().begin(),
                                      arm.a_inverse().end());
      model->mutable_b()->Add(arm.b().begin(), arm.b().end());
      bytes += 8 * (arm.a_inverse().size() + arm.b().size()) + 8;
    } while (i < room.linucb_arms.size() && bytes < writer->room_left());
    writer->Added(bytes);
  }
}

}  // namespace

std::vector<std::string> EncodeSnapshot(const EngineState& state,
                                        size_t chunk_bytes) {
  ChunkWriter writer(chunk_bytes);
  for (const RoomState& room : state.rooms) {
    EncodeRoom(room, chunk_bytes, &writer);
  }
  // Streams are named only when one beyond stream 0 holds ids, so that a
  // single-stream snapshot reads as it always did.
  bool several = false;
  for (size_t s = 1; s < state.event_windows.size(); ++s) {
    several = several || !state.event_windows[s].keys.empty();
  }
  for (size_t s = 0; s < state.event_windows.size(); ++s) {
    const core::EventIdsCopy& window = state.event_windows[s];
    for (size_t i = 0; i < window.keys.size(); ++i) {
      pb::SnapshotChunk* chunk = writer.chunk();
      chunk->add_event_keys(window.keys[i]);
      chunk->add_event_micros(i < window.micros.size() ? window.micros[i] : 0);
      if (several) chunk->add_event_streams(static_cast<uint32_t>(s));
      writer.Added(window.keys[i].size() + 12);
    }
  }
  for (const core::SourceOffset& offset : state.source_offsets) {
    pb::SourceOffset* out = writer.chunk()->add_source_offsets();
    out->set_topic(offset.topic);
    out->set_partition(offset.partition);
    out->set_next_offset(offset.next_offset);
    writer.Added(offset.topic.size() + 24);
  }
  return writer.Finish();
}

absl::StatusOr<EngineState> DecodeSnapshot(
    const std::vector<std::string>& chunks) {
  SnapshotDecoder decoder;
  pb::SnapshotChunk chunk;
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (!chunk.ParseFromString(chunks[c])) {
      return Corrupt(absl::StrCat("chunk ", c, " does not parse"));
    }
    if (absl::Status s = decoder.AddChunk(c, chunk); !s.ok()) return s;
  }
  return std::move(decoder).Finish();
}

}  // namespace banditd::store
