"""Work done by the consumers: the step pipeline and the runner that times each step."""
