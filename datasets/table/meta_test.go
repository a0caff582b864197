package table_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
)

// TestMetaReservedKeys: Options.Meta cannot replace the provenance keys
// (coderflow.table, .stage, .kind, .key, .version) that trace a file to its
// artifact; it silently did, the option's value winning.
func TestMetaReservedKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, k := range []string{table.MetaTable, table.MetaStage, table.MetaKind, table.MetaKey, table.MetaVersion} {
		p := filepath.Join(dir, "c.parquet")
		err := table.WriteFile(p, nil, table.Captions, table.Options{Meta: map[string]string{k: "fake"}}, captionRows(2))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("Meta %s: WriteFile = %v, want an error naming the key", k, err)
		}
		if _, serr := os.Stat(p); !os.IsNotExist(serr) {
			t.Errorf("Meta %s: file written", k)
		}
	}
	p := filepath.Join(dir, "ok.parquet")
	if err := table.WriteFile(p, nil, table.Captions, table.Options{Meta: map[string]string{"dim": "5"}}, captionRows(2)); err != nil {
		t.Fatal(err)
	}
	if m, err := table.ReadMeta(p); err != nil || m["dim"] != "5" || m[table.MetaTable] != table.Captions {
		t.Errorf("meta %v, %v", m, err)
	}
}
