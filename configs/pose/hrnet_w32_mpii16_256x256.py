# mmpose top-down heatmap HRNet-W32, 256x256 input, MPII-16 keypoints (posekit's athlete pose model).
# Self-contained mmengine config (no _base_, no URLs: nothing is downloaded). Joint order,
# flip pairs and names come from graphs/layouts/mpii16.yaml through posekit.pose.mmpose_meta.
# `posekit pose-finetune` fills in the data roots; `posekit extract --pose mmpose` loads it.

default_scope = "mmpose"
codec = dict(type="MSRAHeatmap", input_size=(256, 256), heatmap_size=(64, 64), sigma=2)

model = dict(
    type="TopdownPoseEstimator",
    data_preprocessor=dict(
        type="PoseDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(
        type="HRNet",
        in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block="BOTTLENECK", num_blocks=(4,), num_channels=(64,)),
            stage2=dict(num_modules=1, num_branches=2, block="BASIC", num_blocks=(4, 4), num_channels=(32, 64)),
            stage3=dict(num_modules=4, num_branches=3, block="BASIC", num_blocks=(4, 4, 4), num_channels=(32, 64, 128)),
            stage4=dict(
                num_modules=3,
                num_branches=4,
                block="BASIC",
                num_blocks=(4, 4, 4, 4),
                num_channels=(32, 64, 128, 256),
            ),
        ),
        init_cfg=None,  # offline: initialise from a user-given checkpoint (--init) or from scratch
    ),
    head=dict(
        type="HeatmapHead",
        in_channels=32,
        out_channels=16,
        deconv_out_channels=None,
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True, flip_mode="heatmap", shift_heatmap=True),
)

test_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="TopdownAffine", input_size=codec["input_size"]),
    dict(type="PackPoseInputs"),
]
test_dataloader = dict(
    batch_size=32, num_workers=0, dataset=dict(type="BaseCocoStyleDataset", pipeline=test_pipeline, test_mode=True)
)
