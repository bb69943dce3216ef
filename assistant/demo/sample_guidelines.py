"""The two sample clinical guidelines (SAMPLE content written by this project): a Chinese one in Markdown and an
English one in HTML. A backslash at the end of a line inside the strings joins the next line onto it."""

from __future__ import annotations

from assistant.demo.disclaimers import SAMPLE_DISCLAIMER_EN, SAMPLE_DISCLAIMER_ZH

HYPERTENSION_GUIDELINE_TITLE = "高血压基层诊疗示例指南（2024 示例版）"


HYPERTENSION_GUIDELINE_MD = f"""\
# {HYPERTENSION_GUIDELINE_TITLE}

{SAMPLE_DISCLAIMER_ZH}临床诊疗请以正式发布的指南和执业医师的判断为准。

## 第一章 概述

### 第一节 编写目的与适用范围

本示例指南模仿常见高血压防治指南的结构，面向社区卫生服务中心、乡镇卫生院等基层医疗卫生机构的全科医生，\
概述成人原发性高血压的筛查、诊断、评估、治疗、转诊和随访要点。本示例不涉及儿童青少年高血压和妊娠期高血压的\
具体管理，此类患者应转诊至上级医院。

### 第二节 术语说明

高血压是以体循环动脉血压升高为主要特征的临床综合征，是脑卒中、冠心病、心力衰竭和慢性肾脏病的重要危险因素。\
本示例指南所称“靶器官损害”，是指高血压引起的心脏、脑、肾脏、血管和眼底的结构或功能改变。

### 第三节 推荐等级与证据等级

本示例指南中的推荐意见采用以下分级：推荐等级 I 类表示已证实和（或）一致公认有益、有用和有效，应当采用；\
IIa 类表示证据和（或）观点倾向于有用，可以考虑采用；IIb 类表示有用性证据尚不充分；III 类表示已证实无用或\
可能有害，不推荐采用。证据等级 A 表示资料来源于多项随机对照试验或荟萃分析；证据等级 B 表示资料来源于单项\
随机对照试验或多项非随机研究；证据等级 C 表示资料来源于专家共识和（或）小规模研究。

## 第二章 筛查与血压测量

### 第一节 血压测量

诊室血压测量推荐使用经过验证的上臂式医用电子血压计。测量前受测者应安静休息至少5分钟，测量前30分钟内避免\
吸烟、饮用咖啡或浓茶，并排空膀胱。取坐位，背部有支撑，双脚平放于地面，上臂裸露并与心脏处于同一水平。袖带\
气囊应至少覆盖上臂周径的80%，袖带下缘位于肘窝上2～3 cm。

每次就诊应连续测量2次，间隔1～2分钟，取2次读数的平均值；若2次收缩压或舒张压读数相差超过5 mmHg，应测量\
第3次，取3次读数的平均值。首诊时应测量双上臂血压，以后以读数较高的一侧为准。老年人、糖尿病患者及出现体位性\
头晕者，应加测站立后1分钟和3分钟的立位血压。

### 第二节 诊室外血压监测

家庭血压监测适用于高血压患者的长期随访，推荐每日早、晚各测量1次，每次测量2～3遍，连续测量7天，取后6天读数\
的平均值。动态血压监测可用于识别白大衣高血压和隐蔽性高血压，并评估夜间血压和清晨血压。

### 第三节 筛查建议

18岁及以上成人应至少每年测量1次血压。具有高血压家族史、超重或肥胖、长期高盐饮食、长期过量饮酒、年龄≥55岁\
等易患因素者，建议每6个月测量1次血压。推荐意见：所有到基层医疗卫生机构就诊的成人均应在首诊时测量血压\
（推荐等级 I 类，证据等级 C）。

## 第三章 诊断

### 第一节 诊断标准

高血压的诊断标准：在未使用降压药物的情况下，非同日3次测量诊室血压，收缩压≥140 mmHg和（或）舒张压≥90 mmHg，\
即诊室血压≥140/90 mmHg，可诊断为高血压。既往有高血压史、目前正在使用降压药物的患者，血压虽然低于\
140/90 mmHg，仍应诊断为高血压。以诊室外血压为依据时，家庭血压平均值≥135/85 mmHg，或24小时动态血压平均值\
≥130/80 mmHg、白天平均值≥135/85 mmHg、夜间平均值≥120/70 mmHg，也可诊断为高血压。

### 第二节 血压水平分级

根据诊室血压水平，高血压分为3级：

- 1级高血压（轻度）：收缩压140～159 mmHg和（或）舒张压90～99 mmHg；
- 2级高血压（中度）：收缩压160～179 mmHg和（或）舒张压100～109 mmHg；
- 3级高血压（重度）：收缩压≥180 mmHg和（或）舒张压≥110 mmHg。

收缩压和舒张压分属不同级别时，以较高的级别为准。单纯收缩期高血压是指收缩压≥140 mmHg且舒张压＜90 mmHg，\
同样按照收缩压水平分为1、2、3级。

### 第三节 初诊检查项目

初诊高血压患者应完成以下检查，以评估心血管危险因素、靶器官损害和可能的继发性原因：

- 基本检查：血常规、尿常规、血钾、血钠、血肌酐（并估算肾小球滤过率）、血尿酸、空腹血糖、血脂和心电图；
- 推荐检查：尿白蛋白/肌酐比值、超声心动图、颈动脉超声、眼底检查、糖化血红蛋白；
- 选择性检查：怀疑继发性高血压时，根据需要检查血浆肾素、血醛固酮、肾动脉超声、肾上腺CT等，一般在上级医院完成。

推荐意见：初诊高血压患者应完成上述基本检查，此后每年复查1次（推荐等级 I 类，证据等级 C）。

### 第四节 心血管风险分层

根据血压水平、心血管危险因素、靶器官损害和临床并发症，将高血压患者的心血管风险分为低危、中危、高危和很高危\
四个层次。危险因素包括年龄（男性＞55岁、女性＞65岁）、吸烟、血脂异常、糖耐量受损、腹型肥胖和早发心血管病家族史。\
合并糖尿病或慢性肾脏病3期及以上者，风险至少为高危；合并脑卒中、冠心病、心力衰竭等临床并发症者为很高危。

## 第四章 治疗

### 第一节 治疗原则与降压目标

高血压治疗的根本目标是降低心、脑、肾与血管并发症和死亡的总危险。一般高血压患者血压应降至＜140/90 mmHg；\
能够耐受者和部分高危及以上患者可进一步降至＜130/80 mmHg（推荐等级 I 类，证据等级 A）。65～79岁老年人首先\
应降至＜150/90 mmHg，如能耐受可进一步降至＜140/90 mmHg；80岁及以上高龄老年人的降压目标为＜150/90 mmHg。

### 第二节 生活方式干预

所有高血压患者均应进行生活方式干预（推荐等级 I 类，证据等级 A），包括：

- 减少钠盐摄入，每人每日食盐摄入量逐步降至5 g以下，增加富钾食物摄入；
- 合理膳食，控制体重，使体重指数（BMI）＜24 kg/m²，男性腰围＜90 cm，女性腰围＜85 cm；
- 不吸烟，彻底戒烟，避免被动吸烟；
- 不饮酒或限制饮酒；
- 增加运动，中等强度有氧运动每周4～7次，每次持续30～60分钟；
- 减轻精神压力，保持心理平衡。

### 第三节 药物治疗原则

降压药物应用遵循小剂量起始、优先选择长效制剂、联合用药和个体化四项原则。血压≥160/100 mmHg或心血管风险为\
高危及以上的患者，应立即启动降压药物治疗；1级高血压且风险为低危或中危者，可先进行生活方式干预4～12周，血压\
仍≥140/90 mmHg时启动药物治疗。血压≥160/100 mmHg或高于目标血压20/10 mmHg以上者，可起始即采用两种药物\
联合治疗（推荐等级 I 类，证据等级 A）。

### 第四节 常用降压药物

常用降压药物包括血管紧张素转换酶抑制剂（ACEI）、血管紧张素Ⅱ受体拮抗剂（ARB）、钙通道阻滞剂（CCB）、\
利尿剂和β受体阻滞剂五类。以下剂量为成人常用口服剂量的示例，具体用药须结合药品说明书和患者情况。

#### 一、血管紧张素转换酶抑制剂（ACEI）

常用药物：卡托普利12.5～50 mg，每日2～3次；依那普利5～20 mg，每日1～2次；贝那普利10～20 mg，每日1次。\
ACEI尤其适用于合并心力衰竭、心肌梗死后、糖尿病肾病或蛋白尿的患者。常见不良反应为刺激性干咳，少见血管神经性\
水肿。ACEI的禁忌证：妊娠、双侧肾动脉狭窄、高钾血症及既往有血管神经性水肿病史者禁用。开始用药后1～2周应复查\
血钾和血肌酐。

#### 二、血管紧张素Ⅱ受体拮抗剂（ARB）

常用药物：氯沙坦25～100 mg，每日1次；缬沙坦80～160 mg，每日1次；厄贝沙坦150～300 mg，每日1次。ARB的\
适应证与ACEI相似，尤其适用于不能耐受ACEI所致干咳的患者。ARB的禁忌证与ACEI相同：妊娠、双侧肾动脉狭窄和\
高钾血症者禁用。不推荐ACEI与ARB联合使用（推荐等级 III 类，证据等级 A）。

#### 三、钙通道阻滞剂（CCB）

常用二氢吡啶类药物：氨氯地平2.5～10 mg，每日1次；硝苯地平控释片30～60 mg，每日1次。二氢吡啶类CCB适用于\
老年高血压、单纯收缩期高血压以及合并稳定型心绞痛或颈动脉粥样硬化的患者，常见不良反应为踝部水肿、头痛、面部\
潮红和心率增快，快速型心律失常和心力衰竭患者慎用。非二氢吡啶类CCB（维拉帕米、地尔硫䓬）禁用于二至三度\
房室传导阻滞和心力衰竭患者。

#### 四、利尿剂

常用噻嗪类利尿剂：氢氯噻嗪6.25～25 mg，每日1次；吲达帕胺1.25～2.5 mg，每日1次。利尿剂适用于老年高血压、\
单纯收缩期高血压及合并心力衰竭的患者。主要不良反应为低钾血症和血尿酸升高，用药期间应定期监测血钾。痛风患者\
禁用噻嗪类利尿剂；高尿酸血症和明显肾功能不全者慎用。

#### 五、β受体阻滞剂

常用药物：美托洛尔缓释片47.5～95 mg，每日1次；比索洛尔2.5～10 mg，每日1次。β受体阻滞剂适用于合并快速型\
心律失常、冠心病心绞痛、心肌梗死后或慢性心力衰竭的患者。禁忌证为二至三度房室传导阻滞和哮喘；慢性阻塞性肺疾病、\
周围血管病和糖耐量异常者慎用。长期使用者不应突然停药，以免发生撤药综合征。

### 第五节 联合用药

优先推荐的两药联合方案：ACEI或ARB联合二氢吡啶类CCB；ACEI或ARB联合噻嗪类利尿剂；二氢吡啶类CCB联合噻嗪类\
利尿剂；二氢吡啶类CCB联合β受体阻滞剂。两药联合血压仍未达标时，可采用ACEI或ARB、二氢吡啶类CCB与噻嗪类\
利尿剂三药联合。单片复方制剂有助于提高患者的治疗依从性（推荐等级 IIa 类，证据等级 B）。

## 第五章 转诊

### 第一节 红旗征象与高血压急症

红旗征象：血压≥180/110 mmHg，同时伴有急性靶器官损害表现（如剧烈头痛、意识障碍、胸痛、呼吸困难、视物模糊、\
肢体无力或言语不清），应考虑高血压急症，须立即紧急转诊至具备救治条件的上级医院（推荐等级 I 类，证据等级 C）。\
血压≥180/110 mmHg但无急性靶器官损害表现者，为高血压亚急症，可在基层调整口服降压药物并在24～48小时内复诊。

### 第二节 紧急转诊的处理

紧急转诊前应在严密监测下处理，初始阶段（1小时内）平均动脉压的降低幅度不超过治疗前水平的25%，避免血压骤降\
导致心、脑、肾等重要脏器灌注不足。转诊时应电话通知接诊医院，并随患者提供病情摘要和用药记录。

### 第三节 普通转诊

以下情况建议普通转诊：

- 疑似继发性高血压，如发病年龄＜30岁、血压突然显著升高、伴自发性低钾血症、阵发性血压升高伴头痛心悸多汗；
- 难治性高血压，即联合使用包括利尿剂在内的3种及以上降压药物足量治疗4周以上，血压仍未达标；
- 妊娠期和哺乳期妇女高血压；
- 出现新的靶器官损害或原有靶器官损害明显加重；
- 出现难以处理的药物不良反应。

## 第六章 随访管理

血压未达标者，每2～4周随访1次；血压达标且稳定者，每3个月随访1次。每次随访时测量血压和心率，询问症状、\
用药情况和生活方式，评估药物不良反应，并每年至少进行1次较全面的检查评估。推荐意见：基层医疗卫生机构应为\
高血压患者建立健康档案并实施规范化随访管理（推荐等级 I 类，证据等级 B）。

## 附录 示例声明

本示例指南由依据（Yiju）项目为演示目的编写，内容为通用教科书层面的知识整理，未经任何学术团体审定，\
不得用于临床决策。
"""


PNEUMONIA_GUIDELINE_TITLE = (
    "Sample Guideline: Management of Community-Acquired Pneumonia in Adults (Illustrative Sample)"
)


# The <nav> and <footer> are noise the HTML parser must drop.
PNEUMONIA_GUIDELINE_HTML = f"""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{PNEUMONIA_GUIDELINE_TITLE}</title>
</head>
<body>
<nav class="site-nav">
  <a href="/">Home</a> | <a href="/guidelines/">All guidelines</a> | <a href="/search/">Search</a> |
  <a href="/about/">About this site</a> | <a href="/contact/">Contact us</a> | <a href="/login/">Sign in</a>
</nav>
<main>
<article>
<h1>{PNEUMONIA_GUIDELINE_TITLE}</h1>
<p>{SAMPLE_DISCLAIMER_EN} Clinical decisions must be based on official guidance and professional judgement.</p>

<h2>1. Scope</h2>
<p>This sample guideline covers the diagnosis and initial management of community-acquired pneumonia (CAP) in
adults aged 18 years and over who are assessed in primary care or in a hospital emergency department. It does not
cover hospital-acquired pneumonia, ventilator-associated pneumonia, pneumonia in people who are severely
immunocompromised, or pneumonia in children.</p>
<p>Community-acquired pneumonia is an acute infection of the lung parenchyma acquired outside hospital. Common
causative organisms include <em>Streptococcus pneumoniae</em>, <em>Haemophilus influenzae</em>,
<em>Mycoplasma pneumoniae</em> and respiratory viruses. In most people treated in the community the causative
organism is never identified, and microbiological tests are not routinely needed for low-severity illness.</p>

<h2>2. Diagnosis</h2>
<h3>2.1 Clinical assessment</h3>
<p>Suspect pneumonia in an adult with an acute cough together with at least one of: new focal chest signs,
dyspnoea, tachypnoea, fever lasting more than 4 days, or pleuritic chest pain. Record temperature, heart rate,
respiratory rate, blood pressure, oxygen saturation and mental status at the first assessment.</p>
<h3>2.2 Chest radiograph</h3>
<p>Confirm the diagnosis with a chest radiograph when the diagnosis is uncertain, when the person is admitted to
hospital, or when symptoms do not improve as expected. For people admitted to hospital, the chest radiograph
should be taken and reviewed within 4 hours of presentation. A normal chest radiograph makes CAP unlikely but
does not exclude it early in the illness.</p>
<h3>2.3 Severity assessment with CURB-65</h3>
<p>Assess severity with the CURB-65 score: give 1 point for each criterion in the table below. In primary care,
where the blood urea result is usually not available, use CRB-65, which leaves out the urea criterion.</p>
<table>
  <caption>Table 1. CURB-65 criteria (1 point each)</caption>
  <thead>
    <tr><th>Letter</th><th>Criterion</th><th>Threshold</th></tr>
  </thead>
  <tbody>
    <tr><td>C</td><td>Confusion</td><td>New disorientation in person, place or time</td></tr>
    <tr><td>U</td><td>Urea</td><td>Blood urea greater than 7 mmol/L</td></tr>
    <tr><td>R</td><td>Respiratory rate</td><td>30 breaths per minute or more</td></tr>
    <tr><td>B</td><td>Blood pressure</td><td>Systolic below 90 mmHg or diastolic 60 mmHg or below</td></tr>
    <tr><td>65</td><td>Age</td><td>65 years or older</td></tr>
  </tbody>
</table>
<p>A CURB-65 score of 0 or 1 indicates low severity (30-day mortality below 3%): consider treatment at home.
A score of 2 indicates moderate severity: consider hospital assessment or a short admission. A score of 3 to 5
indicates high severity: arrange urgent hospital admission and consider critical care review when the score is
4 or 5.</p>

<h2>3. Recommendations</h2>
<h3>3.1 Outpatient antibiotic therapy</h3>
<p>For adults with low-severity community-acquired pneumonia (CURB-65 score 0 or 1) who are treated at home,
offer oral amoxicillin 1 g three times daily for 5 days as the first-line antibiotic.
Strong recommendation, moderate-quality evidence.</p>
<p>For adults with penicillin allergy, offer oral doxycycline 200 mg on the first day, then 100 mg once daily, or
oral clarithromycin 500 mg twice daily, for a total of 5 days. Conditional recommendation, low-quality
evidence.</p>
<p>Do not routinely continue antibiotics for longer than 5 days unless the person has not become clinically
stable, for example because fever persists or the respiratory rate remains raised. Strong recommendation,
moderate-quality evidence.</p>
<h3>3.2 Red flags</h3>
<p>Refer the person urgently to hospital, or call emergency services, if any of the following red flags is
present: respiratory rate of 30 breaths per minute or more; oxygen saturation below 92% on room air; systolic
blood pressure below 90 mmHg; new confusion; a CURB-65 or CRB-65 score of 3 or more; inability to take oral
medicines or fluids; or rapid worsening of symptoms despite antibiotic treatment.
Strong recommendation, low-quality evidence.</p>
<h3>3.3 Supportive care and advice</h3>
<p>Advise people treated at home to rest, to drink enough fluids, to take paracetamol for fever or pleuritic pain
if needed, and to stop smoking. Explain that they should seek medical help again if their symptoms get worse
quickly or significantly, or do not start to improve within 3 days.</p>
<p>Give people treated at home clear written safety-netting advice that describes the red flags listed in
section 3.2 and tells them whom to contact, including out of hours, if any of these develop.</p>

<h2>4. Follow-up</h2>
<p>Review adults treated at home after 48 to 72 hours if they are not improving. Explain the usual course of
recovery: after 1 week fever should have resolved; after 4 weeks chest pain and sputum production should have
substantially reduced; after 6 weeks cough and breathlessness should have substantially reduced; and after
6 months most people will feel back to normal.</p>
<p>Do not routinely repeat the chest radiograph in people whose symptoms have resolved. Consider a repeat chest
radiograph about 6 weeks after treatment for people with persisting symptoms or signs, and for people at higher
risk of underlying lung cancer, such as current or former smokers aged over 50 years.</p>
<p>This illustrative sample guideline was written for demonstration by the Yiju project. It has not been reviewed
by any professional body and must not be used to make clinical decisions.</p>
</article>
</main>
<footer class="site-footer">
  <p>&copy; 2024 Example Health Library. All rights reserved. | <a href="/privacy/">Privacy policy</a> |
  <a href="/cookies/">Cookie settings</a> | <a href="/accessibility/">Accessibility</a></p>
  <p>Page last reviewed: 1 January 2024. Next review due: 1 January 2027.</p>
</footer>
</body>
</html>
"""
