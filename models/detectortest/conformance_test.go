package detectortest_test

import (
	"testing"

	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/autoencoder"
	"github.com/escapement/escapement/models/detectortest"
	"github.com/escapement/escapement/models/hst"
	"github.com/escapement/escapement/models/iforest"
	"github.com/escapement/escapement/models/ngram"
	"github.com/escapement/escapement/models/rnnlm"
	"github.com/escapement/escapement/models/seq"
	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/models/vmbase"
	"github.com/escapement/escapement/models/zmax"
)

func TestDetectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() models.Detector
	}{
		{iforest.Name, func() models.Detector { return iforest.New(50, 128) }},
		{zmax.Name, func() models.Detector { return zmax.New() }},
		{autoencoder.Name, func() models.Detector { return &autoencoder.Detector{Steps: 200} }},
		{hst.Name, func() models.Detector { return &hst.Detector{Trees: 10, Depth: 8} }},
	} {
		t.Run(tc.name, func(t *testing.T) { detectortest.Run(t, tc.new) })
	}
}

func TestSequenceModels(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() detectortest.SequenceModel
	}{
		{seq.StideName, func() detectortest.SequenceModel { return seq.NewStide(4) }},
		{seq.LMName, func() detectortest.SequenceModel { return seq.NewLM() }},
		{seq.LMName + "-window", func() detectortest.SequenceModel { return &seq.LM{N: 3, Agg: seq.AggWindow, Window: 10} }},
		{rnnlm.Name, func() detectortest.SequenceModel { return &rnnlm.LM{Embed: 8, Hidden: 16, Epochs: 2, Seed: 1} }},
	} {
		t.Run(tc.name, func(t *testing.T) { detectortest.RunSequence(t, tc.new) })
	}
}

func TestStreamDetectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() stream.Detector
	}{
		{vmbase.Name, func() stream.Detector { return &vmbase.Detector{Warmup: 50, Slack: 0.5} }},
		{ngram.Name, func() stream.Detector { return ngram.New() }},
	} {
		t.Run(tc.name, func(t *testing.T) { detectortest.RunStream(t, tc.new) })
	}
}
