"""The Gradio chat UI, a thin face over the assistant core."""
import assistant  # noqa: F401  (closes network doors before heavy imports)
