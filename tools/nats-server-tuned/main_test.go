package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNatsFlagsAndRaftFlagsParseTogether(t *testing.T) {
	opts, timings, err := configure([]string{
		"-p", "4333", "-js", "--cluster_name", "banditd",
		"--raft_heartbeat=50ms", "--raft_election_timeout_min=400ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Port != 4333 || !opts.JetStream || opts.Cluster.Name != "banditd" {
		t.Errorf("nats-server flags lost: port %d, jetstream %v, cluster %q", opts.Port, opts.JetStream, opts.Cluster.Name)
	}
	if timings.heartbeat != 50*time.Millisecond || timings.electionMin != 400*time.Millisecond {
		t.Errorf("Raft flags lost: heartbeat %v, election min %v", timings.heartbeat, timings.electionMin)
	}
	// Unset Raft flags keep the documented defaults.
	if timings.electionMax != 1200*time.Millisecond || timings.lostQuorum != 10*time.Second {
		t.Errorf("defaults changed: election max %v, lost quorum %v", timings.electionMax, timings.lostQuorum)
	}
}

func TestConfigFileStillWorks(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("port: 4444\nping_interval: \"500ms\"\nping_max: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, timings, err := configure([]string{"-c", conf, "--raft_election_timeout_max=2s"})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Port != 4444 || opts.PingInterval != 500*time.Millisecond || opts.MaxPingsOut != 2 {
		t.Errorf("config file lost: port %d, ping %v x %d", opts.Port, opts.PingInterval, opts.MaxPingsOut)
	}
	if timings.electionMax != 2*time.Second {
		t.Errorf("election max %v, want 2s", timings.electionMax)
	}
}

func TestCheckRejectsTimingsRaftCannotUse(t *testing.T) {
	ok := func() raftTimings {
		_, timings, err := configure(nil)
		if err != nil {
			t.Fatal(err)
		}
		return *timings
	}
	if d := ok(); d.check() != nil {
		t.Fatalf("defaults rejected: %v", d.check())
	}
	cases := []struct {
		name   string
		change func(*raftTimings)
		want   string
	}{
		{"empty election range (rand.Int64N would panic)", func(r *raftTimings) { r.electionMax = r.electionMin }, "--raft_election_timeout_max"},
		{"election within 3 heartbeats", func(r *raftTimings) { r.heartbeat = 300 * time.Millisecond }, "3 x --raft_heartbeat"},
		{"empty campaign range", func(r *raftTimings) { r.campaignMax = r.campaignMin }, "--raft_campaign_timeout_max"},
		{"lost quorum before an election could happen", func(r *raftTimings) { r.lostQuorum = time.Second }, "--raft_lost_quorum"},
		{"zero heartbeat", func(r *raftTimings) { r.heartbeat = 0 }, "must be positive"},
	}
	for _, c := range cases {
		r := ok()
		c.change(&r)
		err := r.check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.name, err, c.want)
		}
	}
}
