"""cultureclip: make CLIP-style vision-language models culturally aware."""

__version__ = "0.1.0"
