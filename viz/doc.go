// Package viz draws the figures of an order-and-merge study with gonum/plot: the training
// imbalance (final loss against first-epoch position; raw beside difficulty-adjusted panels),
// the training-dynamics map (Cartography), training curves, the comparison of merge
// methods, the selection map of a parameter-selection merge, and the ablation over the number of
// variants.
//
// Every figure takes plain data (slices of numbers and names, no types from the training or
// merge packages), so a figure can be drawn from records loaded from CSV as easily as from a
// live run, and it keeps the numbers it drew (Figure.Series) so they can be checked and
// exported. A Figure renders itself as PNG or SVG bytes; in the ordermerge Jupyter kernel a
// figure that is a cell's value shows inline (the kernel looks for the PNG and SVG methods).
package viz
