"""What every sample document says first: it is an illustrative sample, not advice and not an official document."""

from __future__ import annotations

SAMPLE_DISCLAIMER_ZH = (
    "【示例文档声明】本文件是依据（Yiju）项目自行编写的示例文档（SAMPLE），仅用于演示文档检索与引用功能，"
    "不构成医疗建议或法律建议，也不是任何政府部门、卫生健康部门或学术团体发布的正式文件。"
)


SAMPLE_DISCLAIMER_EN = (
    "[SAMPLE DOCUMENT] This is an illustrative SAMPLE written by the Yiju project to demonstrate document "
    "search and citations. It is not medical or legal advice and it is not an official document of any "
    "government, health authority or professional body."
)
