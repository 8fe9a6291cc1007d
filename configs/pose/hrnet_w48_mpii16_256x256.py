# HRNet-W48 variant of hrnet_w32_mpii16_256x256.py (mmengine _base_ inheritance; only the widths change).
_base_ = ["./hrnet_w32_mpii16_256x256.py"]

model = dict(
    backbone=dict(
        extra=dict(
            stage2=dict(num_channels=(48, 96)),
            stage3=dict(num_channels=(48, 96, 192)),
            stage4=dict(num_channels=(48, 96, 192, 384)),
        )
    ),
    head=dict(in_channels=48),
)
