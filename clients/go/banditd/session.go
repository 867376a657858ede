package banditd

import (
	"context"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

// Session gives reads that reflect the session's own writes on any replica
// of a cluster. Every write answers with the stream sequence it was stored
// at (FeedbackResponse.AppliedSequence); the session keeps the highest per
// room and sends it as MinAppliedSequence with Sample and Stats of that room
// (sequences are per stream, and a cluster may spread rooms over several
// streams: --cluster_streams; a batch over rooms of different streams
// reports 0 and is not waited for), so a replica that
// has not applied the write yet waits for it (bounded by the server's
// --cluster_read_wait_timeout, then UNAVAILABLE naming
// min_applied_sequence). Outside cluster mode sequences are 0 and the
// session passes calls through. Safe for concurrent use.
//
//	s := clientA.Session()
//	s.Feedback(ctx, event)               // on replica A
//	s.On(clientB).Stats(ctx, "shop", "", false) // on B, includes event
type Session struct {
	client *Client
	mark   *mark
}

// mark is the highest sequence written or read, per room.
type mark struct {
	mu   sync.Mutex
	seqs map[string]uint64
}

func (m *mark) get(room string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seqs[room]
}

func (m *mark) highest() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var top uint64
	for _, seq := range m.seqs {
		if seq > top {
			top = seq
		}
	}
	return top
}

func (m *mark) advance(rooms []string, seq uint64) {
	if seq == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, room := range rooms {
		if seq > m.seqs[room] {
			m.seqs[room] = seq
		}
	}
}

func newMark() *mark { return &mark{seqs: map[string]uint64{}} }

// Session starts a read-your-writes session on this client.
func (c *Client) Session() *Session { return &Session{client: c, mark: newMark()} }

// On continues the same session (the same sequence) on another client.
func (s *Session) On(c *Client) *Session { return &Session{client: c, mark: s.mark} }

// AppliedSequence is the highest sequence the session wrote or read, over
// all rooms.
func (s *Session) AppliedSequence() uint64 { return s.mark.highest() }

// AppliedSequenceOf is the sequence the session's reads of roomID wait for.
func (s *Session) AppliedSequenceOf(roomID string) uint64 { return s.mark.get(roomID) }

// Feedback is Client.Feedback, remembering the write's sequence.
func (s *Session) Feedback(ctx context.Context, events ...*pb.FeedbackEvent) (*pb.FeedbackResponse, error) {
	resp, err := s.client.Feedback(ctx, events...)
	if err == nil {
		rooms := make([]string, 0, 1)
		for _, e := range events {
			rooms = append(rooms, e.GetRoomId())
		}
		s.mark.advance(rooms, resp.GetAppliedSequence())
	}
	return resp, err
}

// Sample is Client.Sample after the session's writes (req is not modified).
func (s *Session) Sample(ctx context.Context, req *pb.SampleRequest) (*pb.SampleResponse, error) {
	if seq := s.mark.get(req.GetRoomId()); seq > req.GetMinAppliedSequence() {
		req = proto.Clone(req).(*pb.SampleRequest)
		req.MinAppliedSequence = seq
	}
	return s.client.Sample(ctx, req)
}

// Stats is Client.Stats after the session's writes.
func (s *Session) Stats(ctx context.Context, roomID, segment string, includeContext bool) (*pb.GetStatsResponse, error) {
	req := &pb.GetStatsRequest{RoomId: roomID, Segment: segment, IncludeContext: includeContext,
		MinAppliedSequence: s.mark.get(roomID)}
	resp, err := s.client.AllStats(ctx, req)
	if err == nil {
		s.mark.advance([]string{roomID}, resp.GetAppliedSequence())
	}
	return resp, err
}
