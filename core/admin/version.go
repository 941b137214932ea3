package admin

import (
	"runtime/debug"
	"time"
)

// ZooKeeperVersion is the Apache ZooKeeper release whose behaviour zabkit
// reproduces. It leads the version banner because client tooling parses
// the banner's first dotted triple (kazoo splits "zookeeper.version" at the
// first "-", Curator's and zkCli's test harnesses do the same) to pick
// feature sets.
const ZooKeeperVersion = "3.8.4"

// ZabkitVersion is this server's own release.
const ZabkitVersion = "0.1.0"

// buildDate is set at link time, e.g.
//
//	go build -ldflags "-X 'github.com/zabkit/zabkit/core/admin.buildDate=11/23/2026 04:00 UTC'"
//
// When empty, the VCS commit time recorded by the Go toolchain is used, and
// failing that a fixed date, so the banner always has the upstream shape.
var buildDate string

const defaultBuildDate = "01/01/2026 00:00 UTC"

// bannerDateLayout is upstream's "MM/dd/yyyy HH:mm zzz" (Debian's package
// prints an ISO date instead; parsers in the wild expect upstream's form).
const bannerDateLayout = "01/02/2006 15:04 MST"

// BuildDate is the date part of the version banner.
func BuildDate() string {
	if buildDate != "" {
		return buildDate
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t.UTC().Format(bannerDateLayout)
				}
			}
		}
	}
	return defaultBuildDate
}

// Version is the full banner ZooKeeper prints after "Zookeeper version: ",
// e.g. "3.8.4-zabkit-0.1.0, built on 11/23/2026 04:00 UTC".
func Version() string {
	return ZooKeeperVersion + "-zabkit-" + ZabkitVersion + ", built on " + BuildDate()
}
