package train

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"gorgonia.org/tensor"
)

// Checkpoint format: the line "coderflow-train-checkpoint\n", a little-endian
// uint32 header length, the JSON header (ckptHeader), then the raw
// little-endian data of every tensor and queue (keys as a (D, K) matrix,
// then image ids) in header order. Version 2 adds the little-endian CRC-32
// (IEEE) of the JSON header right after it (checked before the model is
// built from the header's config) and ends with the CRC-32 of every byte
// before it, nothing after; version 1 (no checksums) is still read.
const (
	ckptMagic   = "coderflow-train-checkpoint\n"
	ckptVersion = 2
)

type ckptTensor struct {
	Name string `json:"name"`
	Len  int    `json:"len"`
}

type ckptQueue struct {
	Name  string `json:"name"`
	K     int    `json:"k"`
	D     int    `json:"d"`
	Head  int    `json:"head"`
	Count int    `json:"count"`
}

type ckptHeader struct {
	Version int          `json:"version"`
	Config  Config       `json:"config"`
	DType   string       `json:"dtype"`
	Steps   int64        `json:"steps"`
	AdamT   int64        `json:"adam_t"`
	Tensors []ckptTensor `json:"tensors"`
	Queues  []ckptQueue  `json:"queues"`
}

// tensors lists every persistent tensor with its checkpoint name.
func (m *Model) tensors() ([]string, []*tensor.Dense) {
	var names []string
	var ts []*tensor.Dense
	for _, n := range m.names {
		names, ts = append(names, "w/"+n), append(ts, m.w[n])
		if mw, ok := m.mw[n]; ok {
			names, ts = append(names, "momentum/"+n), append(ts, mw)
		}
		names, ts = append(names, "adam.m/"+n, "adam.v/"+n), append(ts, m.am[n], m.av[n])
	}
	return names, ts
}

// ckptLayout is what tensors and queues list for a model of cfg, from the
// config alone (nothing allocated): tensor names and lengths, queue names.
func ckptLayout(cfg Config) (names []string, lens []int, queues []string) {
	for _, ps := range paramSpecs(cfg) {
		n := ps.shape.TotalSize()
		names, lens = append(names, "w/"+ps.name), append(lens, n)
		if ps.name != "proto" { // as newModel: no momentum copy of the prototypes
			names, lens = append(names, "momentum/"+ps.name), append(lens, n)
		}
		names, lens = append(names, "adam.m/"+ps.name, "adam.v/"+ps.name), append(lens, n, n)
	}
	if cfg.Queue > 0 {
		queues = []string{"inst.text", "inst.image"}
		if cfg.Concept {
			queues = append(queues, "concept.text", "concept.image")
		}
	}
	return names, lens, queues
}

func (m *Model) queues() ([]string, []*queue) {
	var names []string
	var qs []*queue
	for _, e := range []struct {
		name string
		q    *queue
	}{{"inst.text", m.qTxt}, {"inst.image", m.qImg}, {"concept.text", m.qcTxt}, {"concept.image", m.qcImg}} {
		if e.q != nil {
			names, qs = append(names, e.name), append(qs, e.q)
		}
	}
	return names, qs
}

// Save writes a complete, versioned checkpoint: config, weights, momentum weights, prototypes,
// Adam state, queues, step count (enough to resume bit-for-bit).
func (m *Model) Save(w io.Writer) error {
	h := ckptHeader{Version: ckptVersion, Config: m.cfg, DType: m.dt.String(), Steps: m.steps, AdamT: m.adamT}
	names, ts := m.tensors()
	for i, n := range names {
		h.Tensors = append(h.Tensors, ckptTensor{Name: n, Len: ts[i].Shape().TotalSize()})
	}
	qnames, qs := m.queues()
	for i, n := range qnames {
		q := qs[i]
		h.Queues = append(h.Queues, ckptQueue{Name: n, K: q.K, D: q.D, Head: q.head, Count: q.count})
	}
	js, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("train: checkpoint header: %w", err)
	}
	out := bufio.NewWriterSize(w, 1<<20)
	crc := crc32.NewIEEE()
	bw := io.MultiWriter(out, crc)
	if _, err := io.WriteString(bw, ckptMagic); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	if err := binary.Write(bw, binary.LittleEndian, uint32(len(js))); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	if _, err := bw.Write(js); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	if err := binary.Write(bw, binary.LittleEndian, crc32.ChecksumIEEE(js)); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	for _, t := range ts {
		if err := binary.Write(bw, binary.LittleEndian, t.Data()); err != nil {
			return fmt.Errorf("train: writing checkpoint: %w", err)
		}
	}
	for _, q := range qs {
		if err := binary.Write(bw, binary.LittleEndian, q.t.Data()); err != nil {
			return fmt.Errorf("train: writing checkpoint: %w", err)
		}
		if err := binary.Write(bw, binary.LittleEndian, q.ids); err != nil {
			return fmt.Errorf("train: writing checkpoint: %w", err)
		}
	}
	if err := binary.Write(out, binary.LittleEndian, crc.Sum32()); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	return nil
}

// Load reads a checkpoint written by Save. A checkpoint that is truncated,
// has data after its end or (version 2) fails its checksum is an error.
func Load(r io.Reader, adj []float32) (*Model, error) {
	in := bufio.NewReaderSize(r, 1<<20)
	crc := crc32.NewIEEE()
	br := io.TeeReader(in, crc)
	magic := make([]byte, len(ckptMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != ckptMagic {
		return nil, errors.New("train: not a coderflow training checkpoint")
	}
	var n uint32
	if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
		return nil, fmt.Errorf("train: reading checkpoint header: %w", err)
	}
	if n > 1<<24 {
		return nil, fmt.Errorf("train: checkpoint header of %d bytes is implausible", n)
	}
	js := make([]byte, n)
	if _, err := io.ReadFull(br, js); err != nil {
		return nil, fmt.Errorf("train: reading checkpoint header: %w", err)
	}
	var h ckptHeader
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, fmt.Errorf("train: checkpoint header: %w", err)
	}
	if h.Version != 1 && h.Version != ckptVersion {
		return nil, fmt.Errorf("train: checkpoint version %d, this build reads versions 1 and %d", h.Version, ckptVersion)
	}
	if h.Version >= 2 {
		var want uint32
		if err := binary.Read(br, binary.LittleEndian, &want); err != nil {
			return nil, fmt.Errorf("train: reading checkpoint header checksum: %w", err)
		}
		if sum := crc32.ChecksumIEEE(js); sum != want {
			return nil, fmt.Errorf("train: checkpoint header checksum %08x, the header's is %08x: the file is corrupted", want, sum)
		}
	}
	if h.Steps < 0 || h.AdamT < 0 {
		return nil, fmt.Errorf("train: checkpoint step counts %d, %d are negative", h.Steps, h.AdamT)
	}
	dt := tensor.Float32
	if h.DType == tensor.Float64.String() {
		dt = tensor.Float64
	} else if h.DType != tensor.Float32.String() {
		return nil, fmt.Errorf("train: checkpoint dtype %q", h.DType)
	}
	// The header's tensors and queues must be those of its config, checked
	// before the model is built: a version 1 header has no checksum, and
	// its config decides how much memory newModel takes (a damaged digit
	// could ask for terabytes).
	if err := h.Config.Validate(); err != nil {
		return nil, fmt.Errorf("train: checkpoint config: %w", err)
	}
	names, lens, qnames := ckptLayout(h.Config)
	if len(names) != len(h.Tensors) {
		return nil, fmt.Errorf("train: checkpoint has %d tensors, the model %d", len(h.Tensors), len(names))
	}
	for i, e := range h.Tensors {
		if e.Name != names[i] || e.Len != lens[i] {
			return nil, fmt.Errorf("train: checkpoint tensor %d is %s[%d], want %s[%d]", i, e.Name, e.Len, names[i], lens[i])
		}
	}
	if len(qnames) != len(h.Queues) {
		return nil, fmt.Errorf("train: checkpoint has %d queues, the model %d", len(h.Queues), len(qnames))
	}
	for i, e := range h.Queues {
		if e.Name != qnames[i] || e.K != h.Config.Queue || e.D != h.Config.Dim || e.Head < 0 || e.Head >= max(e.K, 1) || e.Count < 0 || e.Count > e.K {
			return nil, fmt.Errorf("train: checkpoint queue %d (%s) does not match the model", i, e.Name)
		}
	}
	m, err := newModel(h.Config, adj, dt)
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint config: %w", err)
	}
	_, ts := m.tensors()
	for i, e := range h.Tensors {
		if err := binary.Read(br, binary.LittleEndian, ts[i].Data()); err != nil {
			m.Close()
			return nil, fmt.Errorf("train: reading checkpoint tensor %s: %w", e.Name, err)
		}
	}
	_, qs := m.queues()
	for i, e := range h.Queues {
		q := qs[i]
		q.head, q.count = e.Head, e.Count
		if err := binary.Read(br, binary.LittleEndian, q.t.Data()); err != nil {
			m.Close()
			return nil, fmt.Errorf("train: reading checkpoint queue %s: %w", e.Name, err)
		}
		if err := binary.Read(br, binary.LittleEndian, q.ids); err != nil {
			m.Close()
			return nil, fmt.Errorf("train: reading checkpoint queue %s: %w", e.Name, err)
		}
	}
	if h.Version >= 2 {
		sum := crc.Sum32()
		var want uint32
		if err := binary.Read(in, binary.LittleEndian, &want); err != nil {
			m.Close()
			return nil, fmt.Errorf("train: reading checkpoint checksum: %w", err)
		}
		if sum != want {
			m.Close()
			return nil, fmt.Errorf("train: checkpoint checksum %08x, the data's is %08x: the file is corrupted", want, sum)
		}
	}
	if _, err := in.ReadByte(); err != io.EOF {
		m.Close()
		return nil, errors.New("train: data after the end of the checkpoint")
	}
	m.steps, m.adamT = h.Steps, h.AdamT
	return m, nil
}

// Steps returns the number of training steps taken (restored by Load).
func (m *Model) Steps() int64 { return m.steps }
