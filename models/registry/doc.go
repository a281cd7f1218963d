// Package registry keeps trained model artifacts (models.Artifact
// directories) as versions, names one of them the champion that scorers
// run, and records every decision about them in an append-only history.
//
// Layout of a registry directory:
//
//	DIR/
//	  versions/<model_version>/   one artifact per version (manifest.json, standardizer.json, *.bin)
//	  CHAMPION                    the champion's version, one line; replaced by atomic rename
//	  history.jsonl               one JSON Entry per line, appended, never rewritten
//	  .lock                       flock(2) held while the pointer or history change
//
// Contract:
//   - A version directory appears by rename of a complete copy, so a reader
//     never sees half an artifact; Add verifies every file hash (models.Load)
//     before the rename.
//   - CHAMPION is the single source of truth for what scorers run. It is
//     written to a temporary file, fsynced, renamed over the old pointer and
//     the directory fsynced: after a crash it names either the old or the
//     new champion, never nothing and never garbage. Scorers poll it
//     (Champion) without taking the lock.
//   - The history entry of a switch is appended after the pointer moved;
//     a crash between the two leaves a pointer the history does not explain,
//     which Champion still reports and the next switch repairs by recording
//     a "recover" entry first.
//   - SetChampion is a compare-and-swap on the pointer: it fails with
//     ErrChampionChanged when another promotion won the race.
//
// The champion/challenger gate itself lives in training (training.Gate): this
// package stores, it does not judge.
package registry
