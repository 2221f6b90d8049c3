"""rft: reinforced fine-tuning recipes (GRPO) that teach open LLMs to play Wordle and solve GSM8K."""

__version__ = "0.1.0"
