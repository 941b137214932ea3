// Package admin is zabkit's operations surface: ZooKeeper's four-letter
// words (answered on the client port) and its AdminServer HTTP commands.
// Output follows Apache ZooKeeper 3.8 byte for byte where scripts and
// client harnesses parse it (srvr/stat/mntr/ruok/isro/envi banners and
// line shapes), so existing monitoring keeps working unchanged.
//
// # Contract with the node
//
// The node implements [Source]: plain snapshot structs returned by
// methods, safe for concurrent use, never retained by admin. Nothing here
// reaches into the node's internals, so admin has no locks on hot paths
// and can be tested against a fake.
//
// Client listener (before the handshake of a fresh connection):
//
//	first := int32(binary.BigEndian.Uint32(hdr[:4])) // where the length would be
//	if word, ok := admin.IsFourLetterWord(first); ok {
//		err := admin.Respond(conn, conn, word, src, whitelist) // reads stmk's 8 bytes itself
//		conn.Close()
//		return
//	}
//
// Count the four bytes as a received packet first, as ZooKeeper does, and
// list the connection in Connections while it runs (3.8 lists itself in
// cons/stat).
//
// Whitelist: [ParseWhitelist] with zoo.cfg's 4lw.commands.whitelist and
// readonlymode.enabled; srvr is always allowed.
//
// HTTP (zoo.cfg admin.enableServer/serverAddress/serverPort/commandURL):
//
//	h := admin.Handler(src, admin.WithMetrics(metricsRegistry))
//	go admin.Serve(ctx, listener, h)
//
// Per connection, the node records for cons: packets received/sent,
// outstanding count, and on each reply the cxid (if >= 0), zxid, latency
// and [OpName] of the request, like ZooKeeper's updateStatsForResponse.
//
// The banner comes from [Version]; set the build date at link time with
// -ldflags "-X 'github.com/zabkit/zabkit/core/admin.buildDate=MM/DD/YYYY HH:MM UTC'".
package admin
