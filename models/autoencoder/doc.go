// Package autoencoder is a small dense autoencoder over standardised
// feature vectors: a vector that the network, trained to reproduce normal
// windows through a narrow bottleneck, reconstructs badly is anomalous.
//
// The network is d → H1 → … → Hk → d (default hidden sizes 16, 8, 16) with
// tanh hidden layers and a linear output, weights initialised Glorot-uniform
// from the injected seeded *rand.Rand. Fit trains it with gorgonia
// (gorgonia.org/gorgonia): a graph of the mean squared reconstruction error,
// symbolic gradients, a TapeMachine and the Adam solver, on mini-batches
// drawn with the same rng, so a seed reproduces the weights bit for bit.
//
// Score does not use gorgonia: it runs the forward pass on the exported
// weights in plain Go (a few hundred multiply-adds per vector, no
// allocation), and a parity test checks it against gorgonia's forward pass.
// The score is the mean squared error over the d features. MarshalBinary
// writes the layer sizes, the training settings and the weights.
//
// Inputs are expected standardised (models.Standardizer): the network's
// scale assumptions and the learning rate are for values of order one.
package autoencoder
