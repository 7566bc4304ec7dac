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
    "Attendance has affected progress; we are here to help.",
    "Shows curiosity and resilience; aim higher in written work.",
)
