// Package configs holds zabkit's embedded default configuration and the
// example configurations shipped next to it (see README.md).
package configs

import _ "embed"

// Default is default.yaml: what a plain `zabkit server` runs with, and the
// base every YAML config file is applied on top of.
//
//go:embed default.yaml
var Default []byte
