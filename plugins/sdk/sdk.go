// Package sdk is what a zabkit plugin imports: a separate program that
// serves a store (core/ext.Store) or an election algorithm
// (core/ext.ElectionFactory) to a zabkit server over gRPC, through
// hashicorp/go-plugin. A plugin's main is one call:
//
//	func main() { sdk.ServeStore(open) }
//
// The interfaces a plugin implements are core/ext's, the same ones the
// built-in stores and elections implement; core/ext and its conformance
// kits (core/ext/storetest, core/ext/electiontest) are part of zabkit's
// public API. docs/plugins.md is the guide: writing, building, testing
// with the kits out of process, configuring, versioning, debugging.
//
// Besides serving, the SDK makes the plugin exit when its host dies, even
// by SIGKILL (see watchParent), so a crashed server leaves no process
// holding its files.
package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// ProtocolVersion is the zabkit plugin protocol this SDK speaks; a host
// refuses a plugin built with an SDK of another protocol version (and says
// which versions each side speaks).
const ProtocolVersion = wire.ProtocolVersion

// Plugin names in go-plugin's plugin set.
const (
	StorePlugin    = "store"
	ElectionPlugin = "election"
)

// Handshake is the go-plugin handshake: the magic cookie tells a plugin
// binary that a zabkit host started it (run by hand, it says so and exits),
// and ProtocolVersion is negotiated before any RPC.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "ZABKIT_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "6f1c2d0e-zabkit-plugin-v1",
}

// HostPIDEnv is set by the host to its process id, so the plugin can tell
// that its parent died even if it was reparented before it looked.
const HostPIDEnv = "ZABKIT_PLUGIN_HOST_PID"

// StoreRequest is what the host asks a store plugin to open.
type StoreRequest struct {
	// DataDir and DataLogDir are the server's dataDir and dataLogDir
	// (DataLogDir is DataDir when none is configured); ForceSync is its
	// forceSync: a store that honours it syncs on every Append.
	DataDir    string
	DataLogDir string
	ForceSync  bool
	// Options is store.options.options from the server's configuration,
	// nil when there is none. registry.DecodeOptions decodes it into a
	// struct with the same strict rules the built-in modules follow.
	Options map[string]any
	// Logger writes to the plugin's stderr in the form the host parses:
	// its records appear in the server's log, labelled with the plugin.
	Logger *slog.Logger
}

// Store is a store a plugin serves: an ext.Store that also names its
// database. DBID must be the same every time the same database is opened
// and differ between databases (a random id written when the database is
// created does it); the host refuses a store that reopens with another id,
// because that is not the history the node was running on.
type Store interface {
	ext.Store
	DBID() string
}

// StoreOpener opens the plugin's store. It is called once per plugin
// process, on the host's first request.
type StoreOpener func(ctx context.Context, req StoreRequest) (Store, error)

// Config says what one plugin binary serves: a store, an election
// factory, or both.
type Config struct {
	Store    StoreOpener
	Election ext.ElectionFactory
	// Logger receives the SDK's own messages; default Logger().
	Logger *slog.Logger
}

// ServeStore serves a store plugin; it returns only when the host is gone.
func ServeStore(open StoreOpener) { Serve(Config{Store: open}) }

// ServeElection serves an election plugin; it returns only when the host
// is gone.
func ServeElection(f ext.ElectionFactory) { Serve(Config{Election: f}) }

// Serve serves what cfg names. Started by anything but a zabkit host, it
// prints an explanation and exits with status 1.
func Serve(cfg Config) {
	log := cfg.Logger
	if log == nil {
		log = Logger()
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		fmt.Fprintln(os.Stderr, "This program is a zabkit plugin: a zabkit server starts it (store.module: store.external, store.options.plugin: <this file>). See docs/plugins.md.")
		os.Exit(1)
	}
	watchParent(log)
	set := plugin.PluginSet{}
	if cfg.Store != nil {
		set[StorePlugin] = &StoreGRPCPlugin{Open: cfg.Store, Logger: log}
	}
	if cfg.Election != nil {
		set[ElectionPlugin] = &ElectionGRPCPlugin{Factory: cfg.Election, Logger: log}
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         set,
		GRPCServer:      NewGRPCServer,
		Logger:          hclog.New(&hclog.LoggerOptions{Name: "sdk", Level: hclog.Info, Output: stderr, JSONFormat: true}),
	})
}

// NewGRPCServer is the plugin's gRPC server with the boundary's message
// size limits.
func NewGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(wire.MaxMessageBytes), grpc.MaxSendMsgSize(wire.MaxMessageBytes))
	return grpc.NewServer(opts...)
}

// StoreGRPCPlugin is go-plugin's description of the store plugin. The host
// uses it with Open unset: its GRPCClient gives the raw protobuf client.
type StoreGRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Open   StoreOpener
	Logger *slog.Logger
}

// GRPCServer registers the Store service.
func (p *StoreGRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterStoreServer(s, newStoreServer(p.Open, p.Logger))
	return nil
}

// GRPCClient returns a pb.StoreClient.
func (p *StoreGRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewStoreClient(c), nil
}

// ElectionGRPCPlugin is go-plugin's description of the election plugin.
type ElectionGRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Factory ext.ElectionFactory
	Logger  *slog.Logger
}

// GRPCServer registers the Election service.
func (p *ElectionGRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterElectionServer(s, newElectionServer(p.Factory, p.Logger))
	return nil
}

// GRPCClient returns a pb.ElectionClient.
func (p *ElectionGRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewElectionClient(c), nil
}
