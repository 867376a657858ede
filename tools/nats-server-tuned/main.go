// nats-server-tuned is the stock nats-server (the module version pinned in
// go.mod, unpatched) with shorter Raft timings, so that a JetStream cluster
// elects a new stream or meta leader within about a second of losing one
// instead of 4-9 s. Every nats-server flag and configuration file works as
// usual; the Raft timings are extra flags (see usage, docs/SCALING.md).
//
// Why a separate build: nats-server keeps its Raft timings in unexported
// package variables of github.com/nats-io/nats-server/v2/server (raft.go)
// that no configuration setting reaches. This program links to them by
// name (go:linkname, permitted for non-standard-library packages) and sets
// them before the server starts. A nats-server release that renames them
// fails to link, so the version is pinned and checked at start.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
	_ "unsafe" // go:linkname

	"github.com/nats-io/nats-server/v2/server"
)

// The nats-server release these variables were read from (raft.go). start
// refuses any other, since a variable's meaning may change between releases.
const wantVersion = "2.14.10"

//go:linkname hbInterval github.com/nats-io/nats-server/v2/server.hbInterval
var hbInterval time.Duration

//go:linkname minElectionTimeout github.com/nats-io/nats-server/v2/server.minElectionTimeout
var minElectionTimeout time.Duration

//go:linkname maxElectionTimeout github.com/nats-io/nats-server/v2/server.maxElectionTimeout
var maxElectionTimeout time.Duration

//go:linkname minCampaignTimeout github.com/nats-io/nats-server/v2/server.minCampaignTimeout
var minCampaignTimeout time.Duration

//go:linkname maxCampaignTimeout github.com/nats-io/nats-server/v2/server.maxCampaignTimeout
var maxCampaignTimeout time.Duration

//go:linkname lostQuorumInterval github.com/nats-io/nats-server/v2/server.lostQuorumInterval
var lostQuorumInterval time.Duration

//go:linkname lostQuorumCheck github.com/nats-io/nats-server/v2/server.lostQuorumCheck
var lostQuorumCheck time.Duration

// raftTimings are this build's flags; defaults chosen by measurement on a
// loaded 2-core machine (docs/BENCHMARKS.md, "Write availability").
type raftTimings struct {
	heartbeat, electionMin, electionMax time.Duration
	campaignMin, campaignMax            time.Duration
	lostQuorum, lostQuorumCheck         time.Duration
}

func (t *raftTimings) register(fs *flag.FlagSet) {
	fs.DurationVar(&t.heartbeat, "raft_heartbeat", 100*time.Millisecond,
		"Raft leader heartbeat interval when idle (stock: 1s).")
	fs.DurationVar(&t.electionMin, "raft_election_timeout_min", 600*time.Millisecond,
		"A follower calls an election after a random time in [min, max) without hearing from its leader (stock: 4s).")
	fs.DurationVar(&t.electionMax, "raft_election_timeout_max", 1200*time.Millisecond,
		"Upper end of the election timeout (stock: 9s).")
	fs.DurationVar(&t.campaignMin, "raft_campaign_timeout_min", 100*time.Millisecond,
		"A candidate retries its vote after a random time in [min, max) (stock: 100ms).")
	fs.DurationVar(&t.campaignMax, "raft_campaign_timeout_max", 800*time.Millisecond,
		"Upper end of the campaign timeout (stock: 800ms).")
	fs.DurationVar(&t.lostQuorum, "raft_lost_quorum", 10*time.Second,
		"A leader that has heard from no quorum for this long steps down (stock: 10s).")
	fs.DurationVar(&t.lostQuorumCheck, "raft_lost_quorum_check", 10*time.Second,
		"How often a leader checks for lost quorum (stock: 10s).")
}

// check rejects settings under which Raft would misbehave (or panic:
// nats-server draws rand.Int64N(max - min)).
func (t *raftTimings) check() error {
	switch {
	case t.heartbeat <= 0 || t.lostQuorum <= 0 || t.lostQuorumCheck <= 0:
		return fmt.Errorf("--raft_heartbeat, --raft_lost_quorum and --raft_lost_quorum_check must be positive")
	case t.electionMin >= t.electionMax:
		return fmt.Errorf("--raft_election_timeout_min (%v) must be below --raft_election_timeout_max (%v)", t.electionMin, t.electionMax)
	case t.campaignMin <= 0 || t.campaignMin >= t.campaignMax:
		return fmt.Errorf("--raft_campaign_timeout_min (%v) must be positive and below --raft_campaign_timeout_max (%v)", t.campaignMin, t.campaignMax)
	case t.electionMin < 3*t.heartbeat:
		// A follower hears from an idle leader up to two heartbeats apart;
		// anything closer would call elections against a live leader.
		return fmt.Errorf("--raft_election_timeout_min (%v) must be at least 3 x --raft_heartbeat (%v)", t.electionMin, t.heartbeat)
	case t.lostQuorum < t.electionMax:
		return fmt.Errorf("--raft_lost_quorum (%v) must be at least --raft_election_timeout_max (%v)", t.lostQuorum, t.electionMax)
	}
	return nil
}

func (t *raftTimings) apply() {
	hbInterval = t.heartbeat
	minElectionTimeout, maxElectionTimeout = t.electionMin, t.electionMax
	minCampaignTimeout, maxCampaignTimeout = t.campaignMin, t.campaignMax
	lostQuorumInterval, lostQuorumCheck = t.lostQuorum, t.lostQuorumCheck
}

func (t *raftTimings) String() string {
	return fmt.Sprintf("heartbeat %v, election timeout %v-%v, campaign timeout %v-%v, lost quorum %v (checked every %v)",
		hbInterval, minElectionTimeout, maxElectionTimeout, minCampaignTimeout, maxCampaignTimeout, lostQuorumInterval, lostQuorumCheck)
}

const tunedUsage = `
Raft timing options (nats-server-tuned only; stock values in parentheses):
        --raft_heartbeat <duration>             Leader heartbeat when idle (1s); default 100ms
        --raft_election_timeout_min <duration>  Election timeout range start (4s); default 600ms
        --raft_election_timeout_max <duration>  Election timeout range end (9s); default 1.2s
        --raft_campaign_timeout_min <duration>  Vote retry range start (100ms); default 100ms
        --raft_campaign_timeout_max <duration>  Vote retry range end (800ms); default 800ms
        --raft_lost_quorum <duration>           Leader steps down without quorum (10s); default 10s
        --raft_lost_quorum_check <duration>     Lost-quorum check period (10s); default 10s
`

const exe = "nats-server-tuned"

// configure parses nats-server's flags (and its configuration file, -c)
// together with the Raft timing flags, as nats-server's main.go does.
func configure(args []string) (*server.Options, *raftTimings, error) {
	fs := flag.NewFlagSet(exe, flag.ExitOnError)
	fs.Usage = func() {
		fmt.Printf("Usage: %s [nats-server options] [Raft timing options]\n\n", exe)
		fmt.Printf("Every nats-server %s option works; see `nats-server --help`.\n", wantVersion)
		fmt.Print(tunedUsage)
		os.Exit(0)
	}
	timings := &raftTimings{}
	timings.register(fs)
	opts, err := server.ConfigureOptions(fs, args,
		func() { fmt.Printf("%s: v%s (Raft timings tunable)\n", exe, server.VERSION); os.Exit(0) },
		fs.Usage,
		server.PrintTLSHelpAndDie)
	return opts, timings, err
}

func main() {
	// What nats-server's own main.go does, plus the Raft flags.
	if server.VERSION != wantVersion {
		server.PrintAndDie(fmt.Sprintf("%s: built against nats-server %s, expects %s (the Raft variables it sets are read from that release)", exe, server.VERSION, wantVersion))
	}
	opts, timings, err := configure(os.Args[1:])
	if err != nil {
		server.PrintAndDie(fmt.Sprintf("%s: %s", exe, err))
	} else if opts.CheckConfig {
		fmt.Fprintf(os.Stderr, "%s: configuration file %s is valid (%s)\n", exe, opts.ConfigFile, opts.ConfigDigest())
		os.Exit(0)
	}
	if err := timings.check(); err != nil {
		server.PrintAndDie(fmt.Sprintf("%s: %s", exe, err))
	}
	// Before NewServer: Raft groups read these when they start.
	timings.apply()

	server.RedactArgs(os.Args)

	s, err := server.NewServer(opts)
	if err != nil {
		server.PrintAndDie(fmt.Sprintf("%s: %s", exe, err))
	}
	s.ConfigureLogger()
	s.Noticef("Raft timings (%s): %s", exe, timings.String())

	if err := server.Run(s); err != nil {
		server.PrintAndDie(err.Error())
	}
	s.WaitForShutdown()
}
