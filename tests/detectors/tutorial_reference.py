"""What DataEval 0.65's Clusterer reports on the clusterer tutorial's data (100 make_blobs points,
5 centres, random_state=33, X[79] = X[24], X[63] = X[58] + 1e-5), read off dataeval 0.65.0."""

REF_OUTLIERS = [4, 6, 11, 21, 38, 71]
REF_POTENTIAL_OUTLIERS = [1, 9, 42, 43, 48]
REF_DUPLICATES = [[24, 79], [58, 63]]
REF_POTENTIAL_DUPLICATES = [
    [8, 27, 29],
    [10, 65],
    [16, 99],
    [19, 64],
    [22, 87, 95],
    [33, 76],
    [39, 55],
    [40, 72],
    [41, 62],
    [80, 81, 93],
]
