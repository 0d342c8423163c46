"""MobileNet v1: the paper's layer plan, the Keras builder, mult-add and parameter counts."""
