"""Networks: the WSP pre-training model now; PoseNet's 3D head with fine-tuning."""
