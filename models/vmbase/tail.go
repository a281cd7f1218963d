package vmbase

// DefaultMinTailScale is the smallest tail scale the calibration of the
// per-VM baseline may assume, in score units. The score is the logarithm
// ln(1 + excess rise), so half a unit is a factor of about 1.65 on the
// excess: the same half log unit zmax's calibration assumes
// (zmax.DefaultMinTailScale). A held-out set of a few VMs has only a
// handful of windows in the score's top (a VM stopping, a burst it had not
// shown before); their mean excess can be a few hundredths, and such a
// tail calls a benign window a little past them (a VM stopping with a few
// more thread exits) as rare as a flood. The top of the held-out scores of
// four lab recordings of the same plan differed by up to 0.22.
const DefaultMinTailScale = 0.5

// MinTailScale implements models.TailScaler: the score is on a log scale
// whose calibrated tail is exponential with a scale of at least
// DefaultMinTailScale.
func (d *Detector) MinTailScale() float64 { return DefaultMinTailScale }
