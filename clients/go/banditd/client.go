// Package banditd is a thin Go client of banditd, the multi-armed bandit
// decision service.
//
// It wraps the generated banditdpb.BanditServiceClient with:
//
//   - a default per-call deadline when the context has none (10 s);
//   - retries with exponential backoff of calls that fail with UNAVAILABLE
//     (and only those): Feedback is retried only when every event carries an
//     event_id, and CreateRoom, AddArms, RemoveArm and DeleteRoom never are;
//   - errors of type *Error that keep their gRPC status (status.Code works,
//     errors.Is(err, ErrNotFound) too);
//   - health checks and paging helpers.
//
// Requests and results are the generated protobuf messages of package
// banditdpb. Every method takes a context.Context.
package banditd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/banditd/banditd/clients/go/banditdpb"
)

// DefaultTimeout is the deadline given to a call whose context has none.
const DefaultTimeout = 10 * time.Second

// RetryPolicy controls retries of calls that failed with UNAVAILABLE.
// Attempt n waits min(InitialBackoff * 2^(n-1), MaxBackoff), scaled by a
// random factor in [0.5, 1].
type RetryPolicy struct {
	MaxAttempts    int // 1 disables retries
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// DefaultRetryPolicy is used unless WithRetry says otherwise.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}

type options struct {
	timeout     time.Duration
	retry       RetryPolicy
	creds       credentials.TransportCredentials
	dialOptions []grpc.DialOption
	rootsPEM    []byte
	token       string
}

// Option configures a Client.
type Option func(*options)

// WithTimeout sets the deadline of calls whose context has none; 0 means no
// default deadline.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetry sets the retry policy for UNAVAILABLE errors.
func WithRetry(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithTransportCredentials enables TLS (the default is plaintext).
func WithTransportCredentials(c credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = c }
}

// WithTLSRoots enables TLS, verifying the server against the PEM
// certificates in pem (for a self-signed or private CA certificate).
func WithTLSRoots(pem []byte) Option { return func(o *options) { o.rootsPEM = pem } }

// WithToken sends "authorization: Bearer <token>" with every call, for
// servers started with --auth_tokens_file. Health checks need no token.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// bearerToken is the per-call credential of WithToken.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// Plaintext is allowed: banditd serves plaintext on loopback.
func (bearerToken) RequireTransportSecurity() bool { return false }

// WithDialOptions adds gRPC dial options.
func WithDialOptions(d ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, d...) }
}

// Client calls a banditd server. It is safe for concurrent use.
type Client struct {
	conn   *grpc.ClientConn
	rpc    pb.BanditServiceClient
	health healthpb.HealthClient
	opts   options
}

// Dial creates a client of the server at target (for example
// "localhost:50051"). Like grpc.NewClient it does not wait for a
// connection; use WaitUntilServing for that. Close the client when done.
func Dial(target string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, retry: DefaultRetryPolicy, creds: insecure.NewCredentials()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.rootsPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.rootsPEM) {
			return nil, errors.New("banditd: WithTLSRoots: no certificate in PEM")
		}
		o.creds = credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	dial := []grpc.DialOption{grpc.WithTransportCredentials(o.creds)}
	if o.token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearerToken(o.token)))
	}
	dial = append(dial, o.dialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, rpc: pb.NewBanditServiceClient(conn), health: healthpb.NewHealthClient(conn), opts: o}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Raw returns the generated client, for calls without the wrapper's
// deadlines, retries and error wrapping.
func (c *Client) Raw() pb.BanditServiceClient { return c.rpc }

// Conn returns the underlying connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

func call[Req any, Resp any](ctx context.Context, c *Client, method string, retryable bool,
	fn func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	if _, ok := ctx.Deadline(); !ok && c.opts.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.timeout)
		defer cancel()
	}
	attempts := 1
	if retryable && c.opts.retry.MaxAttempts > 1 {
		attempts = c.opts.retry.MaxAttempts
	}
	for attempt := 1; ; attempt++ {
		resp, err := fn(ctx, req)
		if err == nil {
			return resp, nil
		}
		werr := wrapError(method, err)
		if werr.(*Error).Code() != codes.Unavailable || attempt >= attempts {
			return resp, werr
		}
		pause := c.opts.retry.backoff(attempt)
		if d, ok := ctx.Deadline(); ok && time.Now().Add(pause).After(d) {
			return resp, werr
		}
		select {
		case <-ctx.Done():
			return resp, werr
		case <-time.After(pause):
		}
	}
}

func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.InitialBackoff << (attempt - 1)
	if d > p.MaxBackoff || d <= 0 {
		d = p.MaxBackoff
	}
	return time.Duration(float64(d) * (0.5 + 0.5*rand.Float64()))
}

// Health returns the grpc.health.v1 status of the whole server: SERVING once
// recovery has completed, NOT_SERVING while draining.
func (c *Client) Health(ctx context.Context) (healthpb.HealthCheckResponse_ServingStatus, error) {
	resp, err := call(ctx, c, "Health.Check", false, c.health.Check, &healthpb.HealthCheckRequest{})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	return resp.GetStatus(), nil
}

// WaitUntilServing polls Health until the server reports SERVING or ctx is
// done.
func (c *Client) WaitUntilServing(ctx context.Context) error {
	for {
		probe, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Health(probe)
		cancel()
		if err == nil && st == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return wrapError("Health.Check", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AddArmsChunk is how many arm ids CreateRoom and AddArms send per call:
// 50,000 ids of up to 64 characters stay below 4 MB, the message limit of
// proxies and of gRPC's defaults on most receiving sides.
var AddArmsChunk = 50000

// allPagesSize is the page size of the helpers that read every page: the
// server's largest (each page stays far below gRPC's 4 MB default limit).
const allPagesSize = 10000

// CreateRoom creates a room with its initial (enabled) arms; policy may be
// nil for the server default (KL_UCB). ALREADY_EXISTS if the room exists.
// More than AddArmsChunk arms are sent as a create with the first chunk and
// AddArms calls for the rest (each all or nothing).
func (c *Client) CreateRoom(ctx context.Context, roomID string, armIDs []string, policy *pb.Policy) (*pb.Room, error) {
	return c.CreateRoomFrom(ctx, &pb.CreateRoomRequest{RoomId: roomID, ArmIds: armIDs, Policy: policy})
}

// CreateRoomFrom creates a room from a full request, for the settings
// CreateRoom does not take (decay, LinUCB dimension). The server's reply
// holds no arms (it may be a million); the returned room lists the
// requested ones, all enabled.
func (c *Client) CreateRoomFrom(ctx context.Context, req *pb.CreateRoomRequest) (*pb.Room, error) {
	ids := req.GetArmIds()
	first := proto.Clone(req).(*pb.CreateRoomRequest)
	if len(ids) > AddArmsChunk {
		first.ArmIds = ids[:AddArmsChunk]
	}
	resp, err := call(ctx, c, "CreateRoom", false, c.rpc.CreateRoom, first)
	if err != nil {
		return nil, err
	}
	if len(ids) > AddArmsChunk {
		if _, err := c.AddArms(ctx, req.GetRoomId(), ids[AddArmsChunk:]...); err != nil {
			return nil, err
		}
	}
	room := resp.GetRoom()
	room.ArmCount = int64(len(ids))
	room.Arms = make([]*pb.Arm, len(ids))
	for i, id := range ids {
		room.Arms[i] = &pb.Arm{ArmId: id, Enabled: true}
	}
	return room, nil
}

// GetRoom returns a room's resolved default policy and all its arms, read a
// page (ListArms) at a time after the first 1,000.
func (c *Client) GetRoom(ctx context.Context, roomID string) (*pb.Room, error) {
	room, err := c.GetRoomView(ctx, roomID, pb.RoomView_ROOM_VIEW_FULL)
	if err != nil || room.GetNextArmsPageToken() == "" {
		return room, err
	}
	err = c.ForEachArmPage(ctx, roomID, room.GetNextArmsPageToken(), func(arms []*pb.Arm) error {
		room.Arms = append(room.Arms, arms...)
		return nil
	})
	room.NextArmsPageToken = ""
	return room, err
}

// GetRoomView returns the room in one call: with its first 1,000 arms and
// NextArmsPageToken (FULL) or without arms (BASIC; ArmCount counts them).
func (c *Client) GetRoomView(ctx context.Context, roomID string, view pb.RoomView) (*pb.Room, error) {
	resp, err := call(ctx, c, "GetRoom", true, c.rpc.GetRoom, &pb.GetRoomRequest{RoomId: roomID, View: view})
	return resp.GetRoom(), err
}

// ListArms returns all of a room's arms in their order, fetching all pages.
func (c *Client) ListArms(ctx context.Context, roomID string) ([]*pb.Arm, error) {
	var all []*pb.Arm
	err := c.ForEachArmPage(ctx, roomID, "", func(arms []*pb.Arm) error {
		all = append(all, arms...)
		return nil
	})
	return all, err
}

// ForEachArmPage calls fn with each page of a room's arms (ListArms, up to
// 10,000 arms), starting at pageToken ("" for the first page), until the
// last page or an error from fn.
func (c *Client) ForEachArmPage(ctx context.Context, roomID, pageToken string, fn func([]*pb.Arm) error) error {
	for {
		req := &pb.ListArmsRequest{RoomId: roomID, PageSize: allPagesSize, PageToken: pageToken}
		resp, err := call(ctx, c, "ListArms", true, c.rpc.ListArms, req)
		if err != nil {
			return err
		}
		if err := fn(resp.GetArms()); err != nil {
			return err
		}
		if pageToken = resp.GetNextPageToken(); pageToken == "" {
			return nil
		}
	}
}

// ListRooms returns every room ordered by room_id, fetching all pages, in
// the BASIC view: without arms (ArmCount counts them).
func (c *Client) ListRooms(ctx context.Context) ([]*pb.Room, error) {
	return c.ListRoomsView(ctx, pb.RoomView_ROOM_VIEW_BASIC)
}

// ListRoomsView is ListRooms in a chosen view (FULL: up to 1,000 arms per
// room, and NextArmsPageToken for the rest).
func (c *Client) ListRoomsView(ctx context.Context, view pb.RoomView) ([]*pb.Room, error) {
	var rooms []*pb.Room
	token := ""
	for {
		req := &pb.ListRoomsRequest{PageToken: token, View: view}
		resp, err := call(ctx, c, "ListRooms", true, c.rpc.ListRooms, req)
		if err != nil {
			return rooms, err
		}
		rooms = append(rooms, resp.GetRooms()...)
		if token = resp.GetNextPageToken(); token == "" {
			return rooms, nil
		}
	}
}

// DeleteRoom deletes a room and every counter in it.
func (c *Client) DeleteRoom(ctx context.Context, roomID string) error {
	_, err := call(ctx, c, "DeleteRoom", false, c.rpc.DeleteRoom, &pb.DeleteRoomRequest{RoomId: roomID})
	return err
}

// ResetRoom zeroes every counter of a room and keeps its arms and policy.
func (c *Client) ResetRoom(ctx context.Context, roomID string) error {
	_, err := call(ctx, c, "ResetRoom", true, c.rpc.ResetRoom, &pb.ResetRoomRequest{RoomId: roomID})
	return err
}

// UpdateRoom changes a room's default policy and decay in place, keeping its
// arms and counters, and returns the updated room. room.RoomId names the
// room; paths (AIP-134 field mask, for example "policy.epsilon", "policy",
// "decay.half_life_events", "decay", "*") say which fields of room to take.
// With no paths, the fields set in room change: the policy type when not
// UNSPECIFIED, each policy parameter that is set, and decay when non-nil.
func (c *Client) UpdateRoom(ctx context.Context, room *pb.Room, paths ...string) (*pb.Room, error) {
	req := &pb.UpdateRoomRequest{Room: room}
	if len(paths) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
	}
	resp, err := call(ctx, c, "UpdateRoom", true, c.rpc.UpdateRoom, req)
	return resp.GetRoom(), err
}

// ResetArm zeroes one arm's counters in every segment and context item, and
// its LinUCB model. The arm and its enabled flag stay.
func (c *Client) ResetArm(ctx context.Context, roomID, armID string) error {
	_, err := call(ctx, c, "ResetArm", true, c.rpc.ResetArm, &pb.ResetArmRequest{RoomId: roomID, ArmId: armID})
	return err
}

// ResetArmInSegment zeroes one arm's counters in one segment ("" is the
// whole-room segment) and its context items only.
func (c *Client) ResetArmInSegment(ctx context.Context, roomID, armID, segment string) error {
	req := &pb.ResetArmRequest{RoomId: roomID, ArmId: armID, Segment: &segment}
	_, err := call(ctx, c, "ResetArm", true, c.rpc.ResetArm, req)
	return err
}

// AddArms adds arms to a room and returns the room without its arms
// (ArmCount counts them). All or nothing for up to AddArmsChunk arms; longer
// lists are sent in calls of AddArmsChunk, each all or nothing.
func (c *Client) AddArms(ctx context.Context, roomID string, armIDs ...string) (*pb.Room, error) {
	var room *pb.Room
	for start := 0; start == 0 || start < len(armIDs); start += AddArmsChunk {
		chunk := armIDs[start:min(len(armIDs), start+AddArmsChunk)]
		resp, err := call(ctx, c, "AddArms", false, c.rpc.AddArms, &pb.AddArmsRequest{RoomId: roomID, ArmIds: chunk})
		if err != nil {
			return nil, err
		}
		room = resp.GetRoom()
	}
	return room, nil
}

// RemoveArm removes an arm and its counters.
func (c *Client) RemoveArm(ctx context.Context, roomID, armID string) error {
	_, err := call(ctx, c, "RemoveArm", false, c.rpc.RemoveArm, &pb.RemoveArmRequest{RoomId: roomID, ArmId: armID})
	return err
}

// SetArmEnabled enables or disables an arm. A disabled arm keeps learning
// from Feedback but is never returned by Sample.
func (c *Client) SetArmEnabled(ctx context.Context, roomID, armID string, enabled bool) (*pb.Arm, error) {
	req := &pb.SetArmEnabledRequest{RoomId: roomID, ArmId: armID, Enabled: enabled}
	resp, err := call(ctx, c, "SetArmEnabled", true, c.rpc.SetArmEnabled, req)
	return resp.GetArm(), err
}

// Sample ranks the eligible arms of req.RoomId and returns the top req.K
// (0 means 1), best first.
func (c *Client) Sample(ctx context.Context, req *pb.SampleRequest) (*pb.SampleResponse, error) {
	return call(ctx, c, "Sample", true, c.rpc.Sample, req)
}

// SampleOne returns the id of the best arm of a room for the whole-room
// segment and the room's default policy.
func (c *Client) SampleOne(ctx context.Context, roomID string) (string, error) {
	resp, err := c.Sample(ctx, &pb.SampleRequest{RoomId: roomID, K: 1})
	if err != nil {
		return "", err
	}
	if len(resp.GetArms()) == 0 {
		return "", nil
	}
	return resp.GetArms()[0].GetArmId(), nil
}

// Feedback records events atomically: all are applied or none is, and an
// INVALID_ARGUMENT error names the first bad one ("events[3].arm_id"). It is
// retried on UNAVAILABLE only when every event has an EventId, so that a
// retry cannot count an event twice.
func (c *Client) Feedback(ctx context.Context, events ...*pb.FeedbackEvent) (*pb.FeedbackResponse, error) {
	retryable := len(events) > 0
	for _, e := range events {
		if e.GetEventId() == "" {
			retryable = false
		}
	}
	return call(ctx, c, "Feedback", retryable, c.rpc.Feedback, &pb.FeedbackRequest{Events: events})
}

// Stats returns per-arm counters and scores of one segment of a room
// ("" is the whole room) for every arm, read a page at a time and merged;
// includeContext adds per-context-item counters.
func (c *Client) Stats(ctx context.Context, roomID, segment string, includeContext bool) (*pb.GetStatsResponse, error) {
	return c.AllStats(ctx, &pb.GetStatsRequest{RoomId: roomID, Segment: segment, IncludeContext: includeContext})
}

// AllStats reads every page of req (its PageToken is where to start) into
// one reply: the first page's totals and winner summary, every page's arms.
func (c *Client) AllStats(ctx context.Context, req *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	var all *pb.GetStatsResponse
	err := c.ForEachStatsPage(ctx, req, func(page *pb.GetStatsResponse) error {
		if all == nil {
			all = page
		} else {
			all.Arms = append(all.Arms, page.GetArms()...)
		}
		return nil
	})
	if all != nil {
		all.NextPageToken = ""
	}
	return all, err
}

// ForEachStatsPage calls fn with each page of req's stats (GetStats, up to
// req.PageSize arms, 10,000 when unset), from req.PageToken to the last
// page or an error from fn. req is not modified.
func (c *Client) ForEachStatsPage(ctx context.Context, req *pb.GetStatsRequest, fn func(*pb.GetStatsResponse) error) error {
	req = proto.Clone(req).(*pb.GetStatsRequest)
	if req.PageSize == 0 && len(req.ArmIds) == 0 {
		req.PageSize = allPagesSize
	}
	for {
		resp, err := call(ctx, c, "GetStats", true, c.rpc.GetStats, req)
		if err != nil {
			return err
		}
		if err := fn(resp); err != nil {
			return err
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return nil
		}
	}
}

// StatsForArms returns the stats of the named arms only, in that order (at
// most 10,000; NOT_FOUND naming arm_ids[i] for an arm not in the room).
func (c *Client) StatsForArms(ctx context.Context, roomID, segment string, armIDs ...string) (*pb.GetStatsResponse, error) {
	req := &pb.GetStatsRequest{RoomId: roomID, Segment: segment, ArmIds: armIDs}
	return call(ctx, c, "GetStats", true, c.rpc.GetStats, req)
}
