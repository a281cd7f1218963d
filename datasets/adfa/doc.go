// Package adfa reads the ADFA Linux Dataset (ADFA-LD) of system-call traces
// (G. Creech and J. Hu, "Generation of a new IDS test dataset: Time to
// retire the KDD collection", IEEE WCNC 2013, UNSW Canberra).
//
// The layout is the original archive's:
//
//	Training_Data_Master/UTD-NNNN.txt            normal traces
//	Validation_Data_Master/UVD-NNNN.txt          normal traces
//	Attack_Data_Master/<Family>_<n>/UAD-*.txt    attack traces
//
// Each file is one process trace: decimal i386 system-call numbers separated
// by white space. Read returns the traces of every folder in lexical file
// order, so two reads of the same directory give the same slices. A file
// that holds anything but numbers is an error that names it; an empty trace
// is kept (it has no calls), since dropping it would change the counts.
package adfa
