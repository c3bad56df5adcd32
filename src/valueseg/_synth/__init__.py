"""Private building blocks of :mod:`valueseg.synth`."""
