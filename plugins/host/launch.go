// Package host runs zabkit plugins: it launches a plugin binary through
// hashicorp/go-plugin, checks it (SHA-256, protocol version), and adapts
// its gRPC services to the kernel's interfaces. Store is the store.external
// module's engine: an ext.Store over gRPC with deadlines, health pings
// and a restart budget (docs/plugins.md).
package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/zabkit/zabkit/plugins/internal/wire"
	"github.com/zabkit/zabkit/plugins/sdk"
)

// Errors of launching; compare with errors.Is.
var (
	// ErrChecksum means the plugin binary is not the one configured.
	ErrChecksum = errors.New("plugin: SHA-256 of the binary does not match")
	// ErrProtocol means host and plugin speak different protocol versions.
	ErrProtocol = wire.ErrProtocol
)

// LaunchConfig names a plugin binary and how to start it.
type LaunchConfig struct {
	// Path is the plugin binary.
	Path string
	// SHA256, when set, is the binary's expected SHA-256 (hex); it is
	// checked before every start.
	SHA256 string
	// StartTimeout bounds the start-up handshake. Default 10s.
	StartTimeout time.Duration
	// Logger receives the plugin's stderr, labelled.
	Logger *slog.Logger
}

// launched is one running plugin process.
type launched struct {
	client *plugin.Client
	cmd    *exec.Cmd
	raw    any // what the plugin's GRPCClient returned
}

// pid is the plugin process's id.
func (l *launched) pid() int {
	if l.cmd.Process == nil {
		return 0
	}
	return l.cmd.Process.Pid
}

// kill SIGKILLs the process at once (it may be hung) and lets go-plugin
// clean up in the background.
func (l *launched) kill() {
	if p := l.cmd.Process; p != nil {
		_ = p.Kill()
	}
	go l.client.Kill()
}

// launch starts the plugin and dispenses kind (sdk.StorePlugin or
// sdk.ElectionPlugin).
func launch(cfg LaunchConfig, kind string) (*launched, error) {
	if cfg.Path == "" {
		return nil, errors.New("plugin: no binary configured (option plugin)")
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("plugin binary: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var secure *plugin.SecureConfig
	if cfg.SHA256 != "" {
		sum, err := hex.DecodeString(strings.TrimSpace(cfg.SHA256))
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("plugin option sha256: %q is not a hex SHA-256", cfg.SHA256)
		}
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	startTimeout := cfg.StartTimeout
	if startTimeout <= 0 {
		startTimeout = 10 * time.Second
	}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), sdk.HostPIDEnv+"="+strconv.Itoa(os.Getpid()))
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		Plugins: plugin.PluginSet{
			sdk.StorePlugin:    &sdk.StoreGRPCPlugin{},
			sdk.ElectionPlugin: &sdk.ElectionGRPCPlugin{},
		},
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     startTimeout,
		Logger:           hclogTo(log),
		SyncStderr:       lineWriter(log),
		SyncStdout:       lineWriter(log),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(wire.MaxMessageBytes), grpc.MaxCallSendMsgSize(wire.MaxMessageBytes))},
	})
	l := &launched{client: client, cmd: cmd}
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("%w: %s", ErrChecksum, path)
		}
		if strings.Contains(strings.ToLower(err.Error()), "incompatible api version") {
			return nil, fmt.Errorf("%w: %s: %w", ErrProtocol, path, err)
		}
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	raw, err := rpc.Dispense(kind)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s serves no %s: %w", path, kind, err)
	}
	l.raw = raw
	return l, nil
}
