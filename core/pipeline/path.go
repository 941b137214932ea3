package pipeline

import (
	"strings"

	"github.com/zabkit/zabkit/core/zkerr"
)

// ValidatePath applies ZooKeeper's PathUtils.validatePath rules: absolute,
// no trailing slash (except root), no empty, "." or ".." components, and
// none of the forbidden characters. It returns zkerr.BadArguments.
func ValidatePath(path string) error {
	if path == "" || path[0] != '/' {
		return zkerr.Wrap(zkerr.BadArguments, "path must start with / : %q", path)
	}
	if path == "/" {
		return nil
	}
	if path[len(path)-1] == '/' {
		return zkerr.Wrap(zkerr.BadArguments, "path must not end with / : %q", path)
	}
	for i, comp := range strings.Split(path[1:], "/") {
		switch comp {
		case "":
			return zkerr.Wrap(zkerr.BadArguments, "empty node name in %q (component %d)", path, i)
		case ".", "..":
			return zkerr.Wrap(zkerr.BadArguments, "relative path component in %q", path)
		}
	}
	// Invalid UTF-8 decodes as U+FFFD, which the last range rejects.
	for i, r := range path {
		if r == 0 || (r > 0 && r < 0x20) || (r >= 0x7f && r <= 0x9f) ||
			(r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
			return zkerr.Wrap(zkerr.BadArguments, "invalid character %U in path at byte %d", r, i)
		}
	}
	return nil
}

// parentOf returns the parent of a path that contains a slash; the parent
// of a top-level node is "/".
func parentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// isSpecialPath reports the built-in nodes that can never be deleted.
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}
