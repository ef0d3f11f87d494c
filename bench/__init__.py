"""powchain benchmarks (`make bench`): each figure is a ratio against a bound measured in the
same run on the same cores, because absolute times drift 30-40 % on shared machines."""
