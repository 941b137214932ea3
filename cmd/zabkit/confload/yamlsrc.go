package confload

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// entry is one setting read from a file, before key resolution.
type entry struct {
	key  string // dotted path as written
	val  value
	line int
}

// ErrYAML is wrapped by every parseYAML error.
var ErrYAML = errors.New("bad YAML config")

// maxYAMLNodes bounds the walk so aliases cannot blow up (a YAML bomb).
const maxYAMLNodes = 100000

// parseYAML flattens a YAML mapping into dotted keys: nested mappings
// (`admin: {serverPort: 8080}`) and dotted keys (`admin.serverPort: 8080`)
// give the same entry, so YAML and zoo.cfg share one key space. Sequences
// become lists; null values are skipped (the key keeps its default).
func parseYAML(data []byte) ([]entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrYAML, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: line %d: top level must be a mapping of keys", ErrYAML, root.Line)
	}
	w := &yamlWalker{}
	if err := w.mapping(root, "", 0); err != nil {
		return nil, err
	}
	return w.out, nil
}

type yamlWalker struct {
	out   []entry
	nodes int
}

func (w *yamlWalker) deref(n *yaml.Node) (*yaml.Node, error) {
	for depth := 0; n.Kind == yaml.AliasNode; depth++ {
		if n.Alias == nil || depth > 100 {
			return nil, fmt.Errorf("%w: line %d: bad alias", ErrYAML, n.Line)
		}
		n = n.Alias
	}
	w.nodes++
	if w.nodes > maxYAMLNodes {
		return nil, fmt.Errorf("%w: more than %d nodes", ErrYAML, maxYAMLNodes)
	}
	return n, nil
}

// maxYAMLDepth bounds nesting; real configs use three or four levels, and a
// self-referencing alias would otherwise recurse until maxYAMLNodes.
const maxYAMLDepth = 32

func (w *yamlWalker) mapping(n *yaml.Node, prefix string, depth int) error {
	if depth > maxYAMLDepth {
		return fmt.Errorf("%w: line %d: nested deeper than %d levels", ErrYAML, n.Line, maxYAMLDepth)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := w.deref(n.Content[i])
		if err != nil {
			return err
		}
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return fmt.Errorf("%w: line %d: keys must be non-empty scalars", ErrYAML, k.Line)
		}
		if k.Tag == "!!merge" {
			return fmt.Errorf("%w: line %d: merge keys (<<) are not supported", ErrYAML, k.Line)
		}
		key := k.Value
		if prefix != "" {
			key = prefix + "." + key
		}
		v, err := w.deref(n.Content[i+1])
		if err != nil {
			return err
		}
		switch v.Kind {
		case yaml.MappingNode:
			if err := w.mapping(v, key, depth+1); err != nil {
				return err
			}
		case yaml.SequenceNode:
			list := make([]string, 0, len(v.Content))
			for _, item := range v.Content {
				item, err := w.deref(item)
				if err != nil {
					return err
				}
				if item.Kind != yaml.ScalarNode {
					return fmt.Errorf("%w: line %d: %s: list items must be plain values", ErrYAML, item.Line, key)
				}
				list = append(list, item.Value)
			}
			w.out = append(w.out, entry{key: key, val: value{list: list, isList: true}, line: k.Line})
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				continue
			}
			if strings.ContainsRune(v.Value, 0) {
				return fmt.Errorf("%w: line %d: %s: NUL in value", ErrYAML, v.Line, key)
			}
			w.out = append(w.out, entry{key: key, val: value{s: v.Value}, line: k.Line})
		default:
			return fmt.Errorf("%w: line %d: %s: unsupported value", ErrYAML, v.Line, key)
		}
	}
	return nil
}
