package kg

import (
	"path/filepath"
	"testing"
)

// TestReadWordNetSlashInWord: a WordNet word with a slash
// ("read/write_head", "transmission_control_protocol/internet_protocol")
// becomes a concept as ConceptNet spells it (read_write_head): written as
// /c/en/read/write_head, the term would be read back by NormalizeConcept
// (Neighbors, EdgesAmong's callers) as "read".
func TestReadWordNetSlashInWord(t *testing.T) {
	dir := wordnetMiniWithNoun(t, func(b []byte) []byte {
		return append(b, "03000000 06 n 02 read/write_head 0 Lo/Ovral 0 000 | test synset\n"...)
	})
	var edges []Edge
	if _, err := ReadWordNet(t.Context(), dir, ReadOptions{}, func(b []Edge) error {
		edges = append(edges, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range edges {
		for _, term := range []string{e.Start, e.End} {
			if got, ok := NormalizeConcept(ConceptURI(term)); !ok || got != term {
				t.Errorf("edge %+v: concept %q reads back from its URI as %q", e, term, got)
			}
		}
		if e.Rel == "/r/Synonym" && e.Start == "read_write_head" && e.End == "lo_ovral" {
			found = true
		}
	}
	if !found {
		t.Error("no /r/Synonym edge read_write_head -> lo_ovral")
	}
}

// TestNeighborsSlashSpelling: a term written with a slash, as a caption
// or WordNet writes it ("read/write head"), finds the concept ConceptNet
// spells with '_' (read_write_head), as "t-shirt" finds t_shirt.
func TestNeighborsSlashSpelling(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	buildStore(t, dir, LoaderBulk, []Edge{
		{Rel: "/r/PartOf", Start: "read_write_head", End: "disk_drive", Weight: 1, Dataset: "/d/x"},
	}, 0)
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, term := range []string{"read/write head", "Read/Write_Head", "read_write_head", "/c/en/read_write_head/n"} {
		ns, err := s.Neighbors(t.Context(), term, "")
		if err != nil || len(ns) != 1 || ns[0].Concept != "disk_drive" {
			t.Errorf("Neighbors(%q) = %v, %v; want disk_drive", term, ns, err)
		}
		if c, ok, err := s.Lookup(term); err != nil || !ok || c != "read_write_head" {
			t.Errorf("Lookup(%q) = %q, %v, %v; want read_write_head", term, c, ok, err)
		}
	}
}
