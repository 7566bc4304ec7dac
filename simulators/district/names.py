"""Embedded word lists for the synthetic district: names, courses, notices (no real people)."""

from __future__ import annotations

# Given names and family names drawn from many cultures; combined at random from a seed
# they describe nobody real. Kept as split strings so the module stays short.
_FIRST = """
    Aaliyah Aarav Abebe Abigail Ada Adaeze Adam Adebayo Aditi Adriana Ahmed Aiko Aisha Akira
    Alejandro Alena Alexei Alice Alina Amara Amelia Amina Amir Ana Anders Andrea Angelo Anika
    Anjali Ansel Antonio Anya Arjun Armando Asha Astrid Ayaan Ayesha Beatriz Benedikt Benjamin
    Bianca Bilal Bo Bongani Bruno Caleb Camila Carlos Carmen Catalina Cedric Chen Chiara Chidi
    Chloe Cian Clara Connor Dalia Damian Daniel Dara Dariusz David Deepa Demetrius Diego Dmitri
    Dong Efua Elena Eli Elif Elijah Eliza Emeka Emil Emilia Emma Enzo Esi Esther Ethan Eun Ewa
    Farah Fatima Felix Femi Fiona Finn Francesca Freya Gabriel Gael Grace Hamza Hana Hannah
    Haruto Hassan Hiroshi Hugo Ibrahim Ifeoma Ilya Imani Ines Ingrid Isaac Isabella Ishaan Ivan
    Jabari Jack Jamal Javier Jaya Jin Joao Jonah Jorge Josefina Joseph Juan Julia Jun Kaito
    Kalani Kamala Karim Kavya Kenji Keziah Kiara Kofi Kwame Laila Lars Layla Leila Leo Liam
    Lina Lior Lucas Lucia Luis Luka Lwazi Mala Malak Malik Marco Maria Mariam Marta Mateo Maya
    Mehmet Mei Mia Miguel Mila Min Mira Mohammed Nadia Naledi Naomi Nasser Nia Nikhil Nina Noah
    Noor Nour Olga Oliver Olivia Omar Oscar Owen Pablo Paolo Pavel Priya Rafael Rahul Rania
    Ravi Rhys Rin Rosa Ruby Rui Sadie Safiya Sakura Salma Samir Samuel Santiago Sara Seo-yeon
    Sergei Shira Siddharth Simone Siobhan Sipho Sofia Soren Sun Tamar Tariq Thabo Theo Tomas
    Tomasz Uma Valentina Vera Victor Wei Wiktoria Xavier Xin Yara Yasmin Yosef Yuki Yusuf
    Zainab Zara Zeynep Zhen Zoe
"""
FIRST_NAMES: tuple[str, ...] = tuple(_FIRST.split())

_FAMILY = """
    Abara Abbott Acheampong Adeyemi Aguilar Ahn Akhtar Alvarez Amadi Andersen Appiah Arslan
    Asante Baker Banerjee Barros Becker Bello Bergstrom Bianchi Bondarenko Bose Brennan Brooks
    Bui Byrne Campbell Cardoso Castillo Chandra Chatterjee Chen Cho Chowdhury Ciobanu Clarke
    Costa Cruz Dahl Das Delgado Demir Diallo Diaz Dimitrov Doherty Dubois Duarte Dvorak Edwards
    Eklund Emenike Eriksen Esposito Estrada Farouk Ferrari Figueroa Fischer Flores Fofana
    Fonseca Fraser Fujita Gallagher Garcia Gashi Ghosh Gill Gomez Gonzaga Gupta Haddad Hakimi
    Halvorsen Hansen Hashemi Herrera Hoang Horvat Hughes Ibrahim Ivanova Iyer Jablonski Jensen
    Jimenez Johansson Joshi Kamau Kang Kaplan Karimi Kato Kaur Kelly Khalil Khan Kim Kovacs
    Kowalski Kruger Kumar Laine Larsen Lee Lehmann Levi Lim Lindqvist Lopez Lundgren Macharia
    Mahlangu Malik Mancini Marin Martins Mazur Mehta Mendes Mensah Meyer Mishra Molina Moreau
    Morales Moreno Mukherjee Murphy Mwangi Nagy Nair Nakamura Nascimento Ndlovu Nguyen Nielsen
    Novak Nowak Nunez Obi Odhiambo Oduya Ogunleye Okafor Okeke Oliveira Olsen Omondi Ortiz Osei
    Ozturk Park Patel Pereira Petrov Phillips Pillai Popescu Quinn Rahman Ramirez Rao Reddy
    Reyes Richter Rivera Rojas Romano Rossi Ruiz Saito Salazar Santos Sato Schmidt Sen Serrano
    Shah Shapiro Sharma Silva Singh Sokolov Soto Suzuki Svensson Takahashi Tanaka Tembo Teo
    Torres Tran Turner Ueda Usman Vargas Vasquez Virtanen Volkov Walsh Wang Watanabe Weber Wu
    Xu Yadav Yamamoto Yang Yilmaz Yoon Zhang Zhou Zielinski
"""
FAMILY_NAMES: tuple[str, ...] = tuple(_FAMILY.split())

US_COURSES: tuple[tuple[str, str], ...] = (
    ("Mathematics", "MATH"),
    ("English Language Arts", "ELA"),
    ("Science", "SCI"),
    ("Social Studies", "SOC"),
    ("Physical Education", "PE"),
    ("Art", "ART"),
    ("Music", "MUS"),
    ("Spanish", "SPAN"),
)

UK_COURSES: tuple[tuple[str, str], ...] = (
    ("Mathematics", "MA"),
    ("English", "EN"),
    ("Science", "SC"),
    ("History", "HI"),
    ("Geography", "GE"),
    ("French", "FR"),
    ("Art and Design", "AR"),
    ("Computing", "CO"),
)

SCHOOL_NAMES: tuple[str, ...] = (
    "Riverside",
    "Oakfield",
    "Hillcrest",
    "Maple Grove",
    "Lakeview",
    "Brookside",
    "Westfield",
    "Cedar Park",
    "Northgate",
    "Elm Street",
    "Harbour View",
    "Meadowbank",
)

ASSIGNMENT_KINDS: tuple[tuple[str, str], ...] = (
    ("Homework", "Homework"),
    ("Quiz", "Quiz"),
    ("Worksheet", "Classwork"),
    ("Project", "Project"),
    ("Reading log", "Homework"),
    ("Test", "Test"),
)

ACHIEVEMENTS: tuple[str, ...] = (
    "Excellent homework",
    "Helping others",
    "Outstanding effort",
    "Great participation",
    "Improved progress",
    "Leadership",
)
BEHAVIOURS: tuple[str, ...] = (
    "Late to lesson",
    "Disruption",
    "No homework",
    "Equipment missing",
    "Uniform",
    "Unkind words",
)
COMMENTS: tuple[str, ...] = (
    "Well done.",
    "Please show your working.",
    "Good effort, check spelling.",
    "Handed in after the deadline.",
    "Excellent analysis.",
    "See me about corrections.",
)
REPORT_COMMENTS: tuple[str, ...] = (
    "A settled and hard-working term; keep reading at home.",
    "Good progress in most subjects; homework needs more care.",
    "Contributes well in class and is kind to others.",
    "Shows curiosity and resilience; aim higher in written work.",
)
# For a student whose attendance over the report's period was below ``LOW_ATTENDANCE``.
ATTENDANCE_COMMENT = "Time missed from school has affected progress; we are here to help."
LOW_ATTENDANCE = 0.9
# For one at every session of the period.
FULL_ATTENDANCE_COMMENT = "Full attendance this term, and it shows in steady progress."

# A year group's outing (title, body), by stage: the first for the youngest grades.
US_TRIPS: tuple[tuple[str, str], ...] = (
    ("trip to the children's museum", "A morning at the children's museum; pack a lunch."),
    ("visit to the nature center", "A day at the nature center; wear outdoor shoes."),
    ("science museum visit", "A day at the science museum; permission slips due Friday."),
    ("college and careers fair", "Colleges and employers visit the gym; families welcome."),
)
UK_TRIPS: tuple[tuple[str, str], ...] = (
    ("Geography field trip", "A day of river fieldwork; bring waterproofs and a packed lunch."),
    ("theatre visit", "An evening performance of the set text; letters home this week."),
    ("university taster day", "A day at a university campus; consent forms due Friday."),
)
# A class's notice of the week (topic, body).
CLASS_TOPICS: tuple[tuple[str, str], ...] = (
    ("quiz on Friday", "A short quiz on this unit; the revision sheet is in the folder."),
    ("project due next week", "Projects are due next week; ask if anything is unclear."),
    ("bring your notebook", "Please bring the class notebook to every lesson this week."),
    ("homework club on Thursday", "Homework club runs after school on Thursday, all welcome."),
)
