// Package sim_test runs the deterministic simulator (core/sim) over every
// named fault scenario with Fast Leader Election, many seeds each. A
// failing seed prints its trace and replays exactly with
//
//	ZABKIT_SIM_SCENARIO=<name> ZABKIT_SIM_SEED=<seed> go test ./tests/sim -run TestReplay -v
package sim_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/sim"
	"github.com/zabkit/zabkit/election/fle"
)

func seeds(t *testing.T, def int) int {
	if v := os.Getenv("ZABKIT_SIM_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("ZABKIT_SIM_SEEDS: %v", err)
		}
		return n
	}
	return def
}

// shape rotates the ensemble with the seed: 5 voters, 3 voters and an
// observer, or 3 voters.
func shape(seed int64) (voters, observers int) {
	switch seed % 4 {
	case 1:
		return 5, 0
	case 2:
		return 3, 1
	}
	return 3, 0
}

func run(t *testing.T, sc sim.Scenario, seed int64, voters, observers int, trace bool) sim.Result {
	return sim.Run(sim.Options{Seed: seed, Voters: voters, Observers: observers, Election: fle.DefaultOptions(), Scenario: sc, Trace: trace})
}

// TestScenarios: zero safety violations over every scenario and seed; the
// ensemble also has to converge after healing.
func TestScenarios(t *testing.T) {
	n := seeds(t, 20)
	for _, sc := range sim.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			for seed := int64(1); seed <= int64(n); seed++ {
				voters, observers := shape(seed)
				res := run(t, sc, seed, voters, observers, false)
				if res.Failed() || !res.Converged {
					replay := run(t, sc, seed, voters, observers, true)
					tail := replay.Trace
					if len(tail) > 400 {
						tail = tail[len(tail)-400:]
					}
					t.Fatalf("%s\nstats %+v\ntrace (last %d lines):\n%s", res, res.Stats, len(tail), strings.Join(tail, "\n"))
				}
			}
		})
	}
}

// TestDeterminism: the same seed gives the same run, event for event.
func TestDeterminism(t *testing.T) {
	sc, _ := sim.ScenarioByName("partitions")
	a := run(t, sc, 42, 5, 1, true)
	b := run(t, sc, 42, 5, 1, true)
	if strings.Join(a.Trace, "\n") != strings.Join(b.Trace, "\n") || a.Stats != b.Stats {
		t.Fatalf("two runs of seed 42 differ: %+v vs %+v", a.Stats, b.Stats)
	}
	if a.Stats.OpsAcked == 0 || a.Stats.Elections == 0 {
		t.Fatalf("the run did nothing: %+v", a.Stats)
	}
}

// TestReplay replays one seed with its trace (see the package doc).
func TestReplay(t *testing.T) {
	name, seed := os.Getenv("ZABKIT_SIM_SCENARIO"), os.Getenv("ZABKIT_SIM_SEED")
	if name == "" || seed == "" {
		t.Log("set ZABKIT_SIM_SCENARIO and ZABKIT_SIM_SEED to replay a run")
		return
	}
	sc, err := sim.ScenarioByName(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := strconv.ParseInt(seed, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	voters, observers := shape(s)
	res := run(t, sc, s, voters, observers, true)
	t.Log(strings.Join(res.Trace, "\n"))
	t.Logf("%s stats %+v", res, res.Stats)
	if res.Failed() {
		t.Fail()
	}
}
