"""The step-distillation objective: step 1 inside the teacher, step 2 into the student."""

from videoadviser.distillation.losses import sentiment_bins, student_loss, teacher_loss

__all__ = ["sentiment_bins", "student_loss", "teacher_loss"]
