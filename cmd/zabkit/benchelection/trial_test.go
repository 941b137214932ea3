package benchelection

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/election/fle"
	"github.com/zabkit/zabkit/election/fleadaptive"
	"github.com/zabkit/zabkit/election/raftprevote"
)

var variants = []Variant{
	{Name: "fle", Factory: fle.DefaultOptions()},
	{Name: "fleadaptive", Factory: fleadaptive.DefaultOptions()},
	{Name: "raftprevote", Factory: raftprevote.DefaultOptions()},
}

// TestTrialMeasures: on the real simulator, each fault is injected once a
// leader serves and the measures agree with each other.
func TestTrialMeasures(t *testing.T) {
	timing := DefaultTiming()
	for _, v := range variants {
		for _, f := range AllFaults {
			elections := 0
			for seed := int64(1); seed <= 8; seed++ {
				o := RunTrial(v.Factory, Trial{Nodes: 5, Fault: f, Seed: seed}, timing)
				where := v.Name + " " + string(f)
				switch {
				case len(o.Violations) > 0:
					t.Fatalf("%s seed %d: safety violations %v", where, seed, o.Violations)
				case o.FaultAt == 0:
					t.Fatalf("%s seed %d: no leader served, no fault", where, seed)
				case !o.Converged:
					t.Fatalf("%s seed %d: no stable leader: %+v", where, seed, o)
				case f != Partition && !o.Election:
					t.Fatalf("%s seed %d: the leader was killed but no election is counted", where, seed)
				}
				if !o.Election {
					if o.Unavailable != 0 || o.TimeToLeader != 0 {
						t.Fatalf("%s seed %d: no election, yet %+v", where, seed, o)
					}
					continue
				}
				elections++
				// Writes stop at the fault and resume when a leader with a
				// quorum serves, which may be before it has proved stable.
				if o.TimeToLeader <= 0 || o.Unavailable <= 0 || o.Unavailable > o.TimeToLeader || o.Messages <= 0 || o.Rounds < 1 {
					t.Fatalf("%s seed %d: inconsistent measures %+v", where, seed, o)
				}
			}
			if f == Partition && elections == 0 {
				t.Errorf("%s partition: 8 seeds and the leader was never cut off", v.Name)
			}
		}
	}
}

// TestStableLeaderDefinition: a leader that serves for less than StableFor
// is not the stable one, and a trial where nobody stays that long did not
// converge.
func TestStableLeaderDefinition(t *testing.T) {
	timing := DefaultTiming()
	o := RunTrial(fle.DefaultOptions(), Trial{Nodes: 3, Fault: LeaderKill, Seed: 3}, timing)
	if !o.Converged {
		t.Fatalf("baseline trial did not converge: %+v", o)
	}
	timing.StableFor = 50 * time.Second // longer than the window
	timing.Window = 3 * time.Second
	o = RunTrial(fle.DefaultOptions(), Trial{Nodes: 3, Fault: LeaderKill, Seed: 3}, timing)
	if o.Converged || o.TimeToLeader != 0 || !o.Election {
		t.Fatalf("no leader can serve 50 s within a 3 s window, yet %+v", o)
	}
	if o.Unavailable <= 0 || o.Unavailable >= 3*time.Second {
		t.Fatalf("a new leader served after the kill; unavailability %v", o.Unavailable)
	}
}

func TestSpans(t *testing.T) {
	s := span{10, 20}
	if got := s.minus(span{12, 15}); len(got) != 2 || got[0] != (span{10, 12}) || got[1] != (span{15, 20}) {
		t.Fatalf("minus inside: %v", got)
	}
	if got := s.minus(span{0, 30}); len(got) != 0 {
		t.Fatalf("minus all: %v", got)
	}
	if got := s.minus(span{15, 30}); len(got) != 1 || got[0] != (span{10, 15}) {
		t.Fatalf("minus tail: %v", got)
	}
	if c := covered([]span{{5, 10}, {0, 3}, {8, 12}, {2, 4}}); c != 11 {
		t.Fatalf("covered = %v, want 11", c)
	}
}

func run(t *testing.T, seed int64, workers int) *Report {
	t.Helper()
	rep, err := Run(context.Background(), Config{Variants: variants, Nodes: []int{3, 5}, Faults: AllFaults, Trials: 12,
		Seed: seed, Workers: workers, Timing: DefaultTiming(), Resamples: 300})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestDeterministicReport: the same seed gives the same report, whatever
// the number of workers; the outputs carry every cell.
func TestDeterministicReport(t *testing.T) {
	a, b := run(t, 5, 2), run(t, 5, 1)
	var ja, jb, table bytes.Buffer
	if err := WriteJSON(&ja, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&jb, b); err != nil {
		t.Fatal(err)
	}
	// elapsed_sec is the only wall-clock field.
	strip := func(s string) string {
		i := strings.Index(s, `"elapsed_sec"`)
		return s[:i] + s[strings.Index(s[i:], "\n")+i:]
	}
	if strip(ja.String()) != strip(jb.String()) {
		t.Fatalf("seed 5 gave two reports:\n%s\n%s", ja.String(), jb.String())
	}
	if err := WriteTable(&table, a); err != nil {
		t.Fatal(err)
	}
	if len(a.Cells) != 3*2*3 || len(a.Comparisons) != 2*2*3 {
		t.Fatalf("%d cells, %d comparisons", len(a.Cells), len(a.Comparisons))
	}
	for _, c := range a.Cells {
		if c.Trials != 12 || c.Violations != 0 {
			t.Fatalf("cell %+v", c)
		}
		if !strings.Contains(table.String(), c.Variant) {
			t.Fatal("table misses a variant")
		}
	}
	for _, cmp := range a.Comparisons {
		if cmp.Baseline != "fle" || cmp.Verdict == "" || !strings.Contains(table.String(), cmp.Verdict) {
			t.Fatalf("comparison %+v not in the table", cmp)
		}
	}
	var decoded struct {
		Cells []map[string]any `json:"cells"`
	}
	if err := json.Unmarshal(ja.Bytes(), &decoded); err != nil || len(decoded.Cells) != len(a.Cells) {
		t.Fatalf("JSON: %v, %d cells", err, len(decoded.Cells))
	}
	var csvOut bytes.Buffer
	if err := WriteCSV(&csvOut, a); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil || len(rows) != 1+len(a.Cells) || len(rows[0]) != len(csvHeader) {
		t.Fatalf("CSV: %v, %d rows", err, len(rows))
	}
	if c := run(t, 6, 2); c.Cells[0].TTLP50 == a.Cells[0].TTLP50 && c.Cells[1].TTLP90 == a.Cells[1].TTLP90 && c.Cells[2].Messages == a.Cells[2].Messages {
		t.Fatal("seeds 5 and 6 gave the same numbers")
	}
}

// TestPlot: the SVG is well-formed XML with one CDF per variant and panel.
func TestPlot(t *testing.T) {
	rep := run(t, 7, 2)
	var buf bytes.Buffer
	if err := WritePlot(&buf, rep); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	paths, root := 0, ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				paths++
			}
		}
	}
	panels := 0
	for _, c := range rep.Cells {
		if len(c.TTL()) > 0 {
			panels++
		}
	}
	if root != "svg" || paths != panels {
		t.Fatalf("root %q, %d curves, want %d", root, paths, panels)
	}
}

func TestParseVariants(t *testing.T) {
	r := registry.New()
	r.Register(registry.Module{ID: "election.fle", New: func() any { return fle.DefaultOptions() }})
	load := func(id string, o map[string]any) (ext.ElectionFactory, error) {
		v, err := r.Load(registry.Context{}, id, o)
		if err != nil {
			return nil, err
		}
		return v.(ext.ElectionFactory), nil
	}
	vs, err := ParseVariants([]string{"fle", "election.fle:finalizeWait=50ms:minNotificationInterval=100ms"}, load)
	if err != nil {
		t.Fatal(err)
	}
	if vs[1].Module != "election.fle" || vs[1].Options["finalizeWait"] != "50ms" || vs[1].Name != "election.fle:finalizeWait=50ms:minNotificationInterval=100ms" {
		t.Fatalf("%+v", vs[1])
	}
	if got := vs[1].Factory.(*fle.Options).FinalizeWait; got != 50*time.Millisecond {
		t.Fatalf("option not applied: finalizeWait %v", got)
	}
	for _, bad := range [][]string{{"nope"}, {"fle:finalizeWait"}, {"fle:bogus=1"}, {"fle", "fle"}, {}} {
		if _, err := ParseVariants(bad, load); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
