"""The two sample policy notices (SAMPLE content written by this project, about a fictional city): a Chinese one
written as DOCX and an English one in plain text. A backslash at the end of a line inside the strings joins the next
line onto it."""

from __future__ import annotations

from assistant.demo.disclaimers import SAMPLE_DISCLAIMER_EN, SAMPLE_DISCLAIMER_ZH

SME_POLICY_TITLE = "某市支持中小企业科技创新若干措施（示例）"


# The Chinese notice as a tiny markup, one block a line, written to DOCX by sample_set.py: "= text" Title, "# text"
# Heading 1 (第X章), "| a | b |" table row (first row = header), else a paragraph.
SME_POLICY_MARKUP = f"""\
= {SME_POLICY_TITLE}
{SAMPLE_DISCLAIMER_ZH}文中的“某市”及相关部门均为虚构，所列条件和金额仅为示例。
某市人民政府办公室（示例）关于印发《某市支持中小企业科技创新若干措施（示例）》的通知
各区人民政府，市政府各委、办、局，各有关单位：
经市人民政府同意，现将《某市支持中小企业科技创新若干措施（示例）》印发给你们，请结合实际认真贯彻执行。
某市人民政府办公室（示例）
2024年6月1日
# 第一章　总则
第一条　为激发中小企业创新活力，引导中小企业加大研发投入，推动科技成果转化和产业化，结合本市实际，\
制定本措施。
第二条　本措施适用于注册在本市、具有独立法人资格的中小企业。中小企业的划型按照国家有关中小企业划型标准的\
规定执行。
第三条　市科学技术局（示例）负责本措施的组织实施，市财政局（示例）负责资金保障和监督管理，各区人民政府\
按照职责做好政策宣传和申报组织工作。
# 第二章　支持对象与条件
第四条　申请本措施支持的企业，应当同时符合下列条件：
（一）在本市注册登记满一年，具有独立法人资格，依法纳税；
（二）上一年度营业收入不超过2亿元；
（三）职工人数不超过300人；
（四）上一年度研发投入占营业收入比例不低于3%；
（五）近三年内未发生重大安全、质量、环境事故，未被列入严重失信主体名单。
第五条　符合第四条规定条件，并具有下列情形之一的企业，在同等条件下优先支持：
（一）持有有效期内的高新技术企业证书；
（二）被认定为专精特新中小企业；
（三）拥有与主营业务相关的发明专利。
第六条　有下列情形之一的企业，不予支持：
（一）申报材料弄虚作假的；
（二）存在拖欠职工工资、社会保险费等违法违规行为且尚未整改的；
（三）同一项目已获得市级其他财政资金支持的。
# 第三章　支持措施
第七条　研发费用补助。对符合条件的企业，按照其上一年度经审计的研发费用的10%给予补助，单个企业每年补助金额\
最高不超过50万元。
第八条　首台套奖励。企业自主研发的装备产品被认定为首台（套）重大技术装备的，按照该产品首年度销售额的20%\
给予奖励，单个产品奖励金额最高不超过200万元。
第九条　高新技术企业认定奖励。对首次通过高新技术企业认定的企业，给予一次性奖励30万元；对重新通过认定的企业，\
给予一次性奖励10万元。
第十条　各项支持措施的补助标准如下表所示：
| 支持项目 | 补助方式 | 单个企业年度上限 |
| 研发费用补助 | 上年度研发费用的10% | 50万元 |
| 首台套奖励 | 首年度销售额的20% | 200万元（按单个产品计） |
| 高新技术企业首次认定奖励 | 一次性奖励 | 30万元 |
| 高新技术企业重新认定奖励 | 一次性奖励 | 10万元 |
第十一条　同一企业同一年度获得本措施各项支持的金额合计不超过300万元。同一项目符合本措施和本市其他政策的，\
按照就高不重复的原则给予支持。
# 第四章　申报程序
第十二条　本措施每年集中申报一次，申报时间为每年3月1日至4月30日。企业通过某市科技创新服务平台（示例）\
在线提交申报材料。
第十三条　申报企业应当提交下列材料：
（一）申报书；
（二）营业执照复印件；
（三）上一年度财务审计报告和研发费用专项审计报告；
（四）职工人数证明材料；
（五）申报材料真实性承诺书。
第十四条　市科学技术局（示例）会同市财政局（示例）组织形式审查和专家评审，审核结果在市科学技术局（示例）\
网站公示5个工作日。公示无异议的，按程序拨付资金。
第十五条　获得支持的企业应当按照规定使用资金，并接受有关部门的监督检查。对骗取、挪用补助资金的，依法追回\
已拨付资金，并取消其三年内申报本市各类科技项目的资格。
# 第五章　附则
第十六条　本措施由市科学技术局（示例）负责解释。
第十七条　本措施自2024年7月1日起施行，有效期3年。
"""


RD_GRANT_NOTICE_TITLE = "SAMPLE NOTICE - Small Business Research and Development Grant Programme (Illustrative)"


RD_GRANT_NOTICE_TXT = f"""\
{RD_GRANT_NOTICE_TITLE}

{SAMPLE_DISCLAIMER_EN} The region, the office and all amounts below are fictional.

Issued by: Example Regional Development Office (fictional)
Reference: SAMPLE-RDG-2024-01
Date of issue: 1 February 2024

1. Purpose

1.1 The Small Business Research and Development Grant Programme helps small and medium-sized businesses in the \
region to develop new products, processes and services by sharing the cost of eligible research and development \
(R&D) projects.

1.2 This notice sets out who may apply, how much may be granted, how to apply and the obligations of businesses \
that receive a grant.

2. Eligibility

2.1 The applicant must be a business registered in the region, with its main place of business in the region, \
that has been trading for at least 12 months on the date of application.

2.2 The applicant must have fewer than 250 employees, counted as full-time equivalents on the last day of the \
previous financial year.

2.3 The applicant must have an annual revenue below 50 million euros in the previous financial year.

2.4 The applicant's R&D spending in the previous financial year must be at least 3% of its revenue.

2.5 The applicant must not be in insolvency proceedings and must have no overdue tax or social security debts.

2.6 The project must be carried out mainly in the region and must be completed within 24 months of the grant \
decision.

3. Grant amounts

3.1 The grant covers up to 40% of eligible project costs, up to a maximum of 200,000 euros per project.

3.2 Businesses that are less than 5 years old on the date of application may receive an additional 10 percentage \
points, so that the grant covers up to 50% of eligible project costs, within the same maximum.

3.3 Eligible costs are staff costs of researchers and technicians, materials and consumables used in the project, \
external contract research, and the depreciation of equipment used for the project. General overheads, marketing \
costs and the purchase of land or buildings are not eligible.

3.4 A business may hold no more than one grant under this programme at any one time.

4. Application

4.1 Applications are accepted once a year, from 1 March to 30 April, through the online portal of the Example \
Regional Development Office (fictional).

4.2 An application must include: (a) the completed application form; (b) the certificate of registration; \
(c) the financial statements for the previous financial year; (d) a project plan with a budget; and (e) a signed \
declaration that the information given is true.

4.3 Applications are checked for eligibility and then scored by an independent panel on innovation, feasibility \
and regional economic benefit. A decision is sent to each applicant within 60 working days of the closing date.

5. Obligations and reporting

5.1 Grant holders must submit a short progress report every 6 months and a final report with a statement of costs \
within 3 months of the end of the project.

5.2 The grant must be repaid in full if it was obtained on the basis of false information, or in part if the \
project costs are lower than planned.

6. Commencement

6.1 This notice takes effect on 1 March 2024 and applies to applications received in the 2024 round.

END OF SAMPLE NOTICE. This illustrative notice was written by the Yiju project for demonstration only.
"""
